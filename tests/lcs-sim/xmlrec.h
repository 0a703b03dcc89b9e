/* XML for the council simulator, on libxml2: hardened parsing of request
 * bodies and of Children-in-Need census files (streamed, one Child at a
 * time), and serialisation of XML records, feeds and documents.
 *
 * Parsing uses XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
 * and nothing else (no NOENT, DTDLOAD, DTDATTR, DTDVALID, XINCLUDE, HUGE or
 * RECOVER). The SAX callbacks for a DOCTYPE stop the parser before any
 * declaration in it is read, so a document with a DOCTYPE is refused
 * before its content is used. libxml2's messages quote the data, so errors
 * are only kept as line, domain and code, and nothing is printed. */
#ifndef LCS_SIM_XMLREC_H
#define LCS_SIM_XMLREC_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>

/* The first libxml2 error of a parse; set is false when there was none. */
struct xmlrec_error {
	bool set;
	int line;
	int domain;
	int code;
};

enum xmlrec_status {
	XMLREC_OK,
	XMLREC_NOMEM,
	XMLREC_DOCTYPE,	  /* the document has a DOCTYPE */
	XMLREC_MALFORMED, /* empty, or not well-formed (namespaces included) */
	XMLREC_IO,	  /* reading the file failed */
	XMLREC_ABORTED,	  /* the per-Child callback gave up */
};

/* Once, in the main thread, before any other thread uses libxml2: sets up
 * the parser, denies every external entity (no file or network is ever
 * read by libxml2 itself) and silences libxml2's own error output. */
void xmlrec_init(void);
void xmlrec_cleanup(void);

/* Parses one bounded document held in memory. On XMLREC_OK *out is the
 * document; it has a root element. */
enum xmlrec_status xmlrec_parse_memory(const char *data, size_t len,
				       xmlDocPtr *out,
				       struct xmlrec_error *err);

/* Called for each /Message/Children/Child element of a streamed file once
 * it is complete, in file order. The node belongs to the parser and is
 * freed afterwards: copy what is needed. Nonzero stops the parse
 * (XMLREC_ABORTED). */
typedef int (*xmlrec_child_fn)(void *arg, xmlNodePtr child);

/* Streams the file open on fd through the parser, handing every
 * /Message/Children/Child to fn; *root_ok tells whether the root element
 * was a Message (without namespace). */
enum xmlrec_status xmlrec_parse_fd(int fd, xmlrec_child_fn fn, void *arg,
				   bool *root_ok, struct xmlrec_error *err);

/* A fixed text for a status, for error answers and messages. */
const char *xmlrec_problem(enum xmlrec_status st);

/* Removes the attributes the simulator owns (id, version, modified,
 * deleted; only those without a namespace) from the root element of doc. */
void xmlrec_strip(xmlDocPtr doc);

/* A new document whose root is a deep copy of node, stripped; NULL when
 * memory ran out. */
xmlDocPtr xmlrec_doc_from_node(xmlNodePtr node);

/* A new document holding just an empty element with the name (and
 * namespace) of doc's root: what a deleted record keeps. */
xmlDocPtr xmlrec_tombstone(xmlDocPtr doc);

/* The root element of doc serialised without a declaration (malloc'd,
 * NUL-terminated), to compare payloads; NULL when memory ran out. */
char *xmlrec_payload_text(xmlDocPtr doc, size_t *len);

/* The attributes the simulator sets on a record's element. */
struct xmlrec_owned {
	const char *id;
	long long version;
	const char *modified; /* RFC 3339 */
	bool deleted;
};

/* The record as the simulator shows it: the root of doc with id="...",
 * version="..." and modified="..." first among its attributes, or for a
 * deleted record the empty element with id, version, modified and
 * deleted="true". With decl, a whole document with the XML declaration;
 * without, the element alone. malloc'd, NUL-terminated; NULL when memory
 * ran out. */
char *xmlrec_render_record(const struct xmlrec_owned *own, xmlDocPtr doc,
			   bool decl, size_t *len);

/* The feed: xmlrec_feed_new, then xmlrec_feed_add for each record, then
 * xmlrec_feed_finish, which frees the feed and returns the document text
 * <changes next="N" more="..."> ... </changes> (NULL on failure). */
xmlDocPtr xmlrec_feed_new(void);
int xmlrec_feed_add(xmlDocPtr feed, const struct xmlrec_owned *own,
		    xmlDocPtr doc);
char *xmlrec_feed_finish(xmlDocPtr feed, const char *next, bool more,
			 size_t *len);

/* Appends a copy of the root of doc to parent (in another document),
 * without the simulator's attributes (doc is stored stripped). */
int xmlrec_append_copy(xmlNodePtr parent, xmlDocPtr doc);

/* A new element name with text content under parent; NULL on failure. */
xmlNodePtr xmlrec_add_text_child(xmlNodePtr parent, const char *name,
				 const char *text);

/* Writes doc, with the XML declaration, to fd; 0 or -1 (errno set). */
int xmlrec_save_fd(xmlDocPtr doc, int fd);

#endif
