#include "cin.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "strmap.h"
#include "xmlrec.h"

#define MAX_FILE_NAME 200
#define MAX_REL_PATH 512
#define X(s) ((const xmlChar *)(s))

/* Header values of an extract; see the CIN schema's headertype. */
#define EXTRACT_YEAR "2024"
#define EXTRACT_REFERENCE_DATE "2024-03-31"
#define EXTRACT_LEA "201"
#define EXTRACT_SOFTWARE "lcs-sim"
#define EXTRACT_RELEASE "1"

struct reader {
	struct cin_batch *batch;
	struct strmap ids; /* keys are the ids held by the batch */
	size_t index;	   /* 1-based position of the current Child */
	char *problem;
	size_t size;
};

void cin_batch_free(struct cin_batch *b)
{
	size_t i;

	for (i = 0; i < b->len; i++) {
		free(b->recs[i].id);
		xmlFreeDoc(b->recs[i].doc);
	}
	free(b->recs);
	memset(b, 0, sizeof *b);
}

static bool named(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns == NULL &&
	       xmlStrEqual(n->name, X(name));
}

/* The only child element of parent with that name; NULL when there is
 * none or more than one (*several set). */
static xmlNodePtr only_child(xmlNodePtr parent, const char *name,
			     bool *several)
{
	xmlNodePtr found = NULL;
	xmlNodePtr n;

	for (n = parent->children; n != NULL; n = n->next) {
		if (!named(n, name))
			continue;
		if (found != NULL) {
			*several = true;
			return NULL;
		}
		found = n;
	}
	return found;
}

static int reject_child(struct reader *rd, const char *what)
{
	snprintf(rd->problem, rd->size, "Child %zu: %s", rd->index, what);
	return -1;
}

static int push_child(struct cin_batch *b, char *id, xmlDocPtr doc)
{
	if (b->len == b->cap) {
		size_t cap = b->cap == 0 ? 64 : b->cap * 2;
		struct cin_child *recs;

		if (cap > SIZE_MAX / sizeof *recs)
			return -1;
		recs = realloc(b->recs, cap * sizeof *recs);
		if (recs == NULL)
			return -1;
		b->recs = recs;
		b->cap = cap;
	}
	b->recs[b->len].id = id;
	b->recs[b->len].doc = doc;
	b->len++;
	return 0;
}

static int on_child(void *arg, xmlNodePtr child)
{
	struct reader *rd = arg;
	bool several = false;
	xmlNodePtr ids, la;
	xmlChar *text;
	char *id;
	xmlDocPtr doc;

	rd->index++;
	ids = only_child(child, "ChildIdentifiers", &several);
	la = ids != NULL ? only_child(ids, "LAchildID", &several) : NULL;
	if (several)
		return reject_child(rd, "more than one ChildIdentifiers or "
				    "LAchildID");
	if (la == NULL)
		return reject_child(rd, "no ChildIdentifiers/LAchildID");
	text = xmlNodeGetContent(la);
	if (text == NULL)
		return reject_child(rd, "out of memory");
	if (!store_valid_id((const char *)text)) {
		xmlFree(text);
		return reject_child(rd, "LAchildID is not a valid record id");
	}
	if (strmap_get(&rd->ids, (const char *)text) != NULL) {
		xmlFree(text);
		return reject_child(rd, "LAchildID already used by an earlier "
				    "Child");
	}
	id = strdup((const char *)text);
	xmlFree(text);
	doc = id != NULL ? xmlrec_doc_from_node(child) : NULL;
	if (doc == NULL || push_child(rd->batch, id, doc) != 0) {
		free(id);
		xmlFreeDoc(doc);
		return reject_child(rd, "out of memory");
	}
	if (strmap_put(&rd->ids, id, id) != 0)
		return reject_child(rd, "out of memory");
	return 0;
}

int cin_read_fd(int fd, struct cin_batch *b, char *problem, size_t size)
{
	struct reader rd;
	struct xmlrec_error xerr;
	enum xmlrec_status st;
	bool root_ok = false;

	memset(b, 0, sizeof *b);
	memset(&rd, 0, sizeof rd);
	rd.batch = b;
	rd.problem = problem;
	rd.size = size;
	strmap_init(&rd.ids);
	problem[0] = '\0';
	st = xmlrec_parse_fd(fd, on_child, &rd, &root_ok, &xerr);
	strmap_free(&rd.ids);
	if (st == XMLREC_OK && root_ok)
		return 0;
	if (st == XMLREC_OK)
		snprintf(problem, size, "the root element is not Message");
	else if (st == XMLREC_MALFORMED && xerr.set)
		snprintf(problem, size, "not well-formed XML (line %d, "
			 "libxml2 domain %d, code %d)", xerr.line, xerr.domain,
			 xerr.code);
	else if (st != XMLREC_ABORTED || problem[0] == '\0')
		snprintf(problem, size, "%s", xmlrec_problem(st));
	cin_batch_free(b);
	return -1;
}

int cin_read_path(const char *path, struct cin_batch *b, char *problem,
		  size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int rc;

	memset(b, 0, sizeof *b);
	if (fd < 0) {
		snprintf(problem, size, "%s", strerror(errno));
		return -1;
	}
	rc = cin_read_fd(fd, b, problem, size);
	close(fd);
	return rc;
}

int cin_load(struct store *s, const struct cin_batch *b)
{
	size_t i;

	for (i = 0; i < b->len; i++) {
		xmlDocPtr copy = xmlCopyDoc(b->recs[i].doc, 1);

		if (copy == NULL ||
		    store_insert_xml(s, CIN_COLLECTION, b->recs[i].id, copy,
				     1) == NULL)
			return -1;
	}
	return 0;
}

bool cin_check_dir(const char *option, const char *dir)
{
	struct stat st;

	if (stat(dir, &st) != 0) {
		fprintf(stderr, "lcs-sim: %s %s: %s\n", option, dir,
			strerror(errno));
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "lcs-sim: %s %s: not a directory\n", option,
			dir);
		return false;
	}
	return true;
}

/* --- extract ---------------------------------------------------------- */

bool cin_valid_file_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > MAX_FILE_NAME || name[0] == '.')
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			    "0123456789._-") == n;
}

struct extract_ctx {
	xmlNodePtr children;
	size_t records;
};

static int add_live(void *arg, const struct record *r)
{
	struct extract_ctx *ec = arg;

	if (r->deleted)
		return 0;
	if (xmlrec_append_copy(ec->children, r->xml) != 0)
		return -1;
	ec->records++;
	return 0;
}

/* Message/Header/{CollectionDetails,Source} and an empty Children. */
static xmlDocPtr extract_skeleton(unsigned long long seq,
				  xmlNodePtr *children)
{
	xmlDocPtr doc = xmlNewDoc(X("1.0"));
	xmlNodePtr msg, header, details, source;
	char serial[32];
	char when[32];
	struct tm tm;
	time_t now = time(NULL);

	if (doc == NULL)
		return NULL;
	snprintf(serial, sizeof serial, "%03llu", seq);
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		goto fail;
	msg = xmlNewDocNode(doc, NULL, X("Message"), NULL);
	if (msg == NULL)
		goto fail;
	xmlDocSetRootElement(doc, msg);
	header = xmlrec_add_text_child(msg, "Header", NULL);
	details = header != NULL
			  ? xmlrec_add_text_child(header, "CollectionDetails", NULL)
			  : NULL;
	if (details == NULL ||
	    xmlrec_add_text_child(details, "Collection", "CIN") == NULL ||
	    xmlrec_add_text_child(details, "Year", EXTRACT_YEAR) == NULL ||
	    xmlrec_add_text_child(details, "ReferenceDate",
				  EXTRACT_REFERENCE_DATE) == NULL)
		goto fail;
	source = xmlrec_add_text_child(header, "Source", NULL);
	if (source == NULL ||
	    xmlrec_add_text_child(source, "SourceLevel", "L") == NULL ||
	    xmlrec_add_text_child(source, "LEA", EXTRACT_LEA) == NULL ||
	    xmlrec_add_text_child(source, "SoftwareCode", EXTRACT_SOFTWARE) ==
		    NULL ||
	    xmlrec_add_text_child(source, "Release", EXTRACT_RELEASE) == NULL ||
	    xmlrec_add_text_child(source, "SerialNo", serial) == NULL ||
	    xmlrec_add_text_child(source, "DateTime", when) == NULL)
		goto fail;
	*children = xmlrec_add_text_child(msg, "Children", NULL);
	if (*children == NULL)
		goto fail;
	return doc;
fail:
	xmlFreeDoc(doc);
	return NULL;
}

/* Writes doc to dfd/name through dfd/.name.tmp: write, fsync, rename,
 * fsync of the directory. 0, or -1 with errno set and no file left. */
static int write_atomically(int dfd, const char *name, xmlDocPtr doc)
{
	char tmp[MAX_REL_PATH];
	int fd, saved;

	snprintf(tmp, sizeof tmp, ".%s.tmp", name);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
			      O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (xmlrec_save_fd(doc, fd) != 0 || fsync(fd) != 0) {
		saved = errno;
		close(fd);
		unlinkat(dfd, tmp, 0);
		errno = saved;
		return -1;
	}
	if (close(fd) != 0 || renameat(dfd, tmp, dfd, name) != 0) {
		saved = errno;
		unlinkat(dfd, tmp, 0);
		errno = saved;
		return -1;
	}
	(void)fsync(dfd);
	return 0;
}

int cin_extract(const struct store *s, const char *dir, const char *name,
		const char *coll, unsigned long long since,
		struct cin_extract_result *res, char *problem, size_t size)
{
	struct extract_ctx ec;
	unsigned long long next;
	bool more;
	xmlDocPtr doc;
	int dfd, rc = -1;

	memset(&ec, 0, sizeof ec);
	res->seq = store_seq(s);
	doc = extract_skeleton(res->seq, &ec.children);
	if (doc == NULL ||
	    store_each_change(s, STORE_XML, coll, since, 0, add_live, &ec,
			      &next, &more) != 0) {
		snprintf(problem, size, "out of memory");
		xmlFreeDoc(doc);
		return -1;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || write_atomically(dfd, name, doc) != 0)
		snprintf(problem, size, "cannot write the extract file: %s",
			 strerror(errno));
	else
		rc = 0;
	if (dfd >= 0)
		close(dfd);
	xmlFreeDoc(doc);
	res->records = ec.records;
	return rc;
}

/* --- import ------------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s);
	size_t k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Not hidden, not still being written (.tmp, .part). */
static bool ready_name(const char *name)
{
	return name[0] != '.' && !ends_with(name, ".tmp") &&
	       !ends_with(name, ".part");
}

static int ensure_subdir(int dfd, const char *sub)
{
	if (mkdirat(dfd, sub, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* rejected/NAME.reason, written through a hidden temporary name. */
static void write_reason(int dfd, const char *name, const char *reason)
{
	char path[MAX_REL_PATH];
	char tmp[MAX_REL_PATH];
	size_t n = strlen(reason);
	int fd;
	bool ok;

	snprintf(path, sizeof path, "rejected/%s.reason", name);
	snprintf(tmp, sizeof tmp, "rejected/.%s.reason.tmp", name);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
			      O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	ok = write(fd, reason, n) == (ssize_t)n && write(fd, "\n", 1) == 1;
	ok = close(fd) == 0 && ok;
	if (!ok || renameat(dfd, tmp, dfd, path) != 0)
		unlinkat(dfd, tmp, 0);
}

static int move_to(int dfd, const char *name, const char *sub)
{
	char target[MAX_REL_PATH];

	if (ensure_subdir(dfd, sub) != 0)
		return -1;
	snprintf(target, sizeof target, "%s/%s", sub, name);
	return renameat(dfd, name, dfd, target);
}

static bool same_payload(xmlDocPtr a, xmlDocPtr b)
{
	size_t la = 0, lb = 0;
	char *ta = xmlrec_payload_text(a, &la);
	char *tb = xmlrec_payload_text(b, &lb);
	bool same = ta != NULL && tb != NULL && la == lb &&
		    memcmp(ta, tb, la) == 0;

	free(ta);
	free(tb);
	return same;
}

/* Upserts every record of the batch; takes the documents it uses. */
static int apply_batch(struct store *s, struct cin_batch *b,
		       struct cin_import_result *res)
{
	size_t i;

	for (i = 0; i < b->len; i++) {
		struct cin_child *c = &b->recs[i];
		struct record *r = store_find(s, STORE_XML, CIN_COLLECTION,
					      c->id);
		xmlDocPtr doc = c->doc;

		res->records++;
		if (r != NULL && !r->deleted && same_payload(r->xml, doc)) {
			res->unchanged++;
			continue;
		}
		c->doc = NULL;
		if (r == NULL) {
			if (store_insert_xml(s, CIN_COLLECTION, c->id, doc, 1) ==
			    NULL)
				return -1;
			res->created++;
		} else {
			if (store_replace_xml(s, r, doc) != 0)
				return -1;
			res->updated++;
		}
	}
	return 0;
}

/* One ready file: 0 when taken (accepted or rejected), 1 when it is not
 * there any more or not a regular file, -1 on trouble (problem set). */
static int import_one(struct store *s, int dfd, const char *name,
		      struct cin_import_result *res, char *problem,
		      size_t size)
{
	struct cin_batch batch;
	char why[CIN_PROBLEM_MAX];
	struct stat st;
	int fd, rc;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
			       O_NOCTTY);
	if (fd < 0 && (errno == ENOENT || errno == ELOOP))
		return 1;
	if (fd < 0) {
		/* Say so in rejected/ rather than trying it again and again. */
		memset(&batch, 0, sizeof batch);
		snprintf(why, sizeof why, "cannot be opened: %s",
			 strerror(errno));
		rc = -1;
	} else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 1;
	} else {
		rc = cin_read_fd(fd, &batch, why, sizeof why);
		close(fd);
	}
	res->files++;
	if (rc != 0) {
		res->rejected++;
		if (ensure_subdir(dfd, "rejected") == 0)
			write_reason(dfd, name, why);
		if (move_to(dfd, name, "rejected") != 0) {
			snprintf(problem, size, "cannot move a rejected file: "
				 "%s", strerror(errno));
			return -1;
		}
		return 0;
	}
	rc = apply_batch(s, &batch, res);
	cin_batch_free(&batch);
	if (rc != 0) {
		snprintf(problem, size, "out of memory");
		return -1;
	}
	if (move_to(dfd, name, "processed") != 0) {
		snprintf(problem, size, "cannot move an imported file: %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}

int cin_import(struct store *s, const char *dir, struct cin_import_result *res,
	       char *problem, size_t size)
{
	struct dirent **names = NULL;
	int n, i, dfd;
	int rc = 0;

	memset(res, 0, sizeof *res);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	n = dfd >= 0 ? scandir(dir, &names, NULL, alphasort) : -1;
	if (n < 0) {
		snprintf(problem, size, "cannot read the import directory: %s",
			 strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	for (i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		struct stat st;

		if (rc == 0 && ready_name(name) &&
		    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) &&
		    import_one(s, dfd, name, res, problem, size) < 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	close(dfd);
	return rc;
}
