/* codec_xml.h - XML payloads: safe parsing and access through XPath.
 *
 * Untrusted XML is parsed only with XML_PARSE_NONET (and never NOENT,
 * DTDLOAD, DTDATTR, XINCLUDE, HUGE or RECOVER); any DOCTYPE is rejected
 * before content is used; the external entity loader denies everything;
 * errors are reported through a structured handler as domain, code and
 * line, never the text of the document.
 *
 * Locations in mappings are XPath 1.0 expressions evaluated relative to a
 * record element. Reading accepts any expression that compiles. Writing
 * (encoding) accepts the subset codec_xml_path_writable() describes. */
#ifndef CASESYNC_CODEC_XML_H
#define CASESYNC_CODEC_XML_H

#include <stddef.h>
#include <libxml/tree.h>
#include "common.h"

#define CODEC_XML_MAX_DEPTH 64	/* element nesting accepted */

/* Process-wide libxml2 setup (deny-all entity loader, no network).
 * Idempotent; called by the functions below as needed. */
void codec_xml_init(void);

/* Parses at most max bytes of untrusted XML. NULL on failure with a message
 * in err naming line and libxml2 domain/code (or "DOCTYPE not allowed",
 * "document too large", "nesting too deep"). Free with xmlFreeDoc.
 * Options: NONET | NOERROR | NOWARNING | NOBLANKS | NOCDATA: whitespace-only
 * text between elements is dropped (a leaf's own text is kept) and CDATA
 * becomes plain text. Any error-level report (namespace errors included)
 * rejects the document. */
xmlDocPtr codec_xml_parse(const char *data, size_t len, size_t max,
			  char *err, size_t errsz);

/* Compiles an XPath expression; NULL with a message when it does not
 * compile. The result is an xmlXPathCompExprPtr (free with
 * codec_xml_xpath_free). */
void *codec_xml_xpath_compile(const char *expr, char *err, size_t errsz);
void codec_xml_xpath_free(void *comp);

/* True when expr is in the writable subset: "." or one or more steps
 * separated by "/", each an element name (NCName, optionally with a
 * "prefix:"), the last one optionally "@attr" or "text()". No leading "/",
 * no predicates, no "..", no "//", no wildcards, no "xmlns" prefix and no
 * "@xmlns". A prefix means the namespace it is bound to where the step is
 * applied; an unprefixed name means no namespace (as in XPath 1.0). */
int codec_xml_path_writable(const char *expr);

/* Evaluates comp relative to node. A node-set gives one value per node
 * (an element's text content, an attribute's value), in document order;
 * a string, number or boolean result gives one value (an empty string
 * result gives none). *vals is a NULL-terminated array (free with
 * codec_xml_vals_free); *n its length. */
int codec_xml_get(xmlNodePtr node, void *comp, char ***vals, size_t *n,
		  char *err, size_t errsz) CS_MUST_CHECK;
void codec_xml_vals_free(char **vals, size_t n);

/* The element nodes comp selects relative to node, in document order
 * (non-element nodes are an error). *nodes is malloc'd (NULL when *n is 0);
 * free() it. */
int codec_xml_items(xmlNodePtr node, void *comp, xmlNodePtr **nodes,
		    size_t *n, char *err, size_t errsz) CS_MUST_CHECK;

/* Element order for nodes the encoder creates: children[i] lists the
 * child element names of elements named parent[i], in schema order (local
 * names, without prefixes). A new element is inserted before the first
 * existing sibling whose name comes later in its parent's list; otherwise
 * appended (also when the parent or the name is not listed). */
struct codec_xml_order {
	char **parent;
	char ***children;	/* each NULL-terminated */
	size_t n;
};

/* Writes values at a writable path relative to node, creating missing
 * intermediate elements (in order); an intermediate step resolves to the
 * first matching child. n == 0 removes the final node(s) (creating
 * nothing). For n > 1 the last step is repeated once per value (all under
 * the same parent): existing elements are reused in document order, extra
 * ones removed, missing ones added after them. "." sets node's own text
 * and a last "text()" step its element's (one value; child elements and
 * attributes stay); an element step replaces the element's content. Values are literal text
 * (escaped on output) and must be valid UTF-8 made of XML characters:
 * otherwise CS_EINVAL, naming the value's position only, and nothing is
 * changed. */
int codec_xml_set(xmlNodePtr node, const char *path,
		  const struct codec_xml_order *order, char *const *vals,
		  size_t n, char *err, size_t errsz) CS_MUST_CHECK;

/* Appends a new, empty element at a writable element path relative to node
 * (intermediate elements created or reused, the last step always new, all
 * placed in order). NULL on allocation failure or an unwritable path. */
xmlNodePtr codec_xml_add_item(xmlNodePtr node, const char *path,
			      const struct codec_xml_order *order);

/* Removes every element the path's last step names under the (existing)
 * intermediate elements, resolved as codec_xml_set does (a last "@attr" or
 * "text()" step removes that attribute or text). Never creates anything;
 * "." and unwritable paths do nothing. */
void codec_xml_remove_items(xmlNodePtr node, const char *path);

/* Validates doc against an XSD file. 0 when valid; otherwise CS_EINVAL with
 * the first problem (line, domain, code) in err and the number of problems
 * in *nproblems when non-NULL. The schema itself is loaded without network
 * access. */
int codec_xml_validate(xmlDocPtr doc, const char *xsd_path, int *nproblems,
		       char *err, size_t errsz) CS_MUST_CHECK;

/* Reading a large file one record at a time (libxml2's xmlTextReader), so
 * memory stays flat as files grow. The same rules as codec_xml_parse: no
 * network, no DTD, any DOCTYPE or entity reference rejected before a
 * record is returned, the nesting limit, errors as line, domain and code.
 * records_path is a plain absolute element path ("/Message/Children/Child",
 * local names); each element it names is returned as one record. With an
 * XSD, the whole document is validated as it streams: a schema error can
 * surface after earlier records were returned, so a caller that must not
 * apply part of a file works inside a transaction it can roll back. */
struct codec_xml_stream;

struct codec_xml_stream *codec_xml_stream_open(const char *path,
					       const char *records_path,
					       const char *xsd_path, char *err,
					       size_t errsz);
/* 1 with *rec (valid until the next call; XPaths relative to it work) and
 * *line (its start tag's line); 0 at the end of a valid document; CS_EINVAL
 * with the problem in err (and no record) otherwise, after which it returns
 * 0. */
int codec_xml_stream_next(struct codec_xml_stream *s, xmlNodePtr *rec,
			  int *line, char *err, size_t errsz) CS_MUST_CHECK;
void codec_xml_stream_close(struct codec_xml_stream *s);

/* Serialises node (an element) as a standalone UTF-8 document, indented.
 * Caller frees with xmlFree. */
int codec_xml_serialise(xmlNodePtr node, char **out, size_t *len)
	CS_MUST_CHECK;

#endif
