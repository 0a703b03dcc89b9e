/* Children-in-Need census files for the council simulator: the XML
 * fixture (--cin-fixture), extract files written to a directory
 * (--extract-dir) and files imported from one (--import-dir). Each
 * /Message/Children/Child is a record of the XML collection "children",
 * identified by its ChildIdentifiers/LAchildID. Not thread-safe (the API
 * lock serialises access). */
#ifndef LCS_SIM_CIN_H
#define LCS_SIM_CIN_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

#define CIN_COLLECTION "children"
#define CIN_PROBLEM_MAX 160

struct cin_child {
	char *id;      /* the LAchildID text */
	xmlDocPtr doc; /* the Child element as root, stripped */
};

/* The Child records of one file, in file order. */
struct cin_batch {
	struct cin_child *recs;
	size_t len;
	size_t cap;
};

void cin_batch_free(struct cin_batch *b);

/* Reads and checks a census file, streamed: well-formed, no DOCTYPE, root
 * Message, every Child with exactly one ChildIdentifiers/LAchildID whose
 * text is a valid record id, no LAchildID twice. On failure returns -1
 * with problem set to a fixed text (positions and libxml2 codes, never
 * data) and the batch empty. */
int cin_read_fd(int fd, struct cin_batch *b, char *problem, size_t size);
int cin_read_path(const char *path, struct cin_batch *b, char *problem,
		  size_t size);

/* Inserts copies of the batch's records into the collection, version 1,
 * in order (the fixture). 0, or -1 when memory ran out. */
int cin_load(struct store *s, const struct cin_batch *b);

/* Whether dir is an existing directory; reports on stderr (naming the
 * option and the directory) when not. */
bool cin_check_dir(const char *option, const char *dir);

struct cin_extract_result {
	size_t records;
	unsigned long long seq;
};

/* Writes dir/name as a census document holding every live record of the
 * XML collection coll changed after since, atomically (.name.tmp, fsync,
 * rename). -1 with problem set on failure; nothing is left behind. */
int cin_extract(const struct store *s, const char *dir, const char *name,
		const char *coll, unsigned long long since,
		struct cin_extract_result *res, char *problem, size_t size);

/* Whether name is acceptable as an extract file name. */
bool cin_valid_file_name(const char *name);

struct cin_import_result {
	size_t files;	  /* files taken */
	size_t rejected;  /* of them, moved to rejected/ */
	size_t records;	  /* Child records in the accepted files */
	size_t created;
	size_t updated;
	size_t unchanged;
};

/* Imports every ready file of dir (see docs/simulator.md) in name order:
 * all its Child records or none into the collection "children", then moves
 * it to dir/processed/ or, with dir/rejected/NAME.reason, to
 * dir/rejected/. -1 with problem set when the directory cannot be read or
 * a file cannot be moved (files before it stay done). */
int cin_import(struct store *s, const char *dir, struct cin_import_result *res,
	       char *problem, size_t size);

#endif
