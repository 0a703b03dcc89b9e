#include "xmlrec.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlsave.h>

#define PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)
#define READ_CHUNK 16384
#define SIM_ATTRS_N 4

static const char *const sim_attrs[SIM_ATTRS_N] = { "id", "version",
						    "modified", "deleted" };

#define X(s) ((const xmlChar *)(s))

struct parse_state {
	struct xmlrec_error *err;
	xmlrec_child_fn fn; /* NULL: keep the whole tree */
	void *arg;
	bool doctype;
	bool aborted;
};

/* --- set-up -------------------------------------------------------------- */

static xmlParserInputPtr deny_entity(const char *url, const char *id,
				     xmlParserCtxtPtr ctxt)
{
	(void)url;
	(void)id;
	(void)ctxt;
	return NULL;
}

/* libxml2's generic channel prints messages that quote the input. */
static void silent_generic(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

void xmlrec_init(void)
{
	xmlInitParser();
	xmlSetExternalEntityLoader(deny_entity);
	/* For this thread, and the default of every thread started later. */
	xmlSetGenericErrorFunc(NULL, silent_generic);
	xmlThrDefSetGenericErrorFunc(NULL, silent_generic);
}

void xmlrec_cleanup(void)
{
	xmlCleanupParser();
}

const char *xmlrec_problem(enum xmlrec_status st)
{
	switch (st) {
	case XMLREC_OK:
		return "ok";
	case XMLREC_NOMEM:
		return "out of memory";
	case XMLREC_DOCTYPE:
		return "DOCTYPE not allowed";
	case XMLREC_MALFORMED:
		return "not well-formed XML";
	case XMLREC_IO:
		return "read error";
	case XMLREC_ABORTED:
		break;
	}
	return "invalid record";
}

/* --- parsing --------------------------------------------------------------- */

static void keep_error(struct parse_state *ps, const xmlError *e)
{
	if (ps == NULL || e == NULL || ps->err->set)
		return;
	ps->err->set = true;
	ps->err->line = e->line;
	ps->err->domain = e->domain;
	ps->err->code = e->code;
}

/* The parser context's structured handler: only domain, code and line
 * are kept, never the message (it quotes the data). */
static void on_ctxt_error(void *data, xmlErrorPtr e)
{
	xmlParserCtxtPtr ctxt = data;

	keep_error(ctxt->_private, e);
}

/* This thread's handler, for errors raised without the context (such as
 * encoding conversion errors), while a parse runs. */
static void on_thread_error(void *data, xmlErrorPtr e)
{
	keep_error(data, e);
}

/* internalSubset and externalSubset: called as soon as "<!DOCTYPE name"
 * is read, before any declaration of the subset. */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *eid,
		       const xmlChar *sid)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct parse_state *ps = ctxt->_private;

	(void)name;
	(void)eid;
	(void)sid;
	ps->doctype = true;
	xmlStopParser(ctxt);
}

static bool is_element(const xmlNode *n, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns == NULL &&
	       xmlStrEqual(n->name, X(name));
}

/* /Message/Children/Child, all without a namespace. */
static bool is_cin_child(const xmlNode *n)
{
	const xmlNode *children, *message;

	if (!is_element(n, "Child"))
		return false;
	children = n->parent;
	if (!is_element(children, "Children"))
		return false;
	message = children->parent;
	return is_element(message, "Message") && message->parent != NULL &&
	       message->parent->type == XML_DOCUMENT_NODE;
}

/* endElementNs while streaming: a finished Child goes to the callback,
 * then its content and everything before it in Children is freed, so the
 * tree never holds more than one Child. The emptied element itself stays
 * as the parent's last child until the next one ends, so the parser's
 * text handling sees the tree it expects. */
static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
		   const xmlChar *uri)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct parse_state *ps = ctxt->_private;
	xmlNodePtr node = ctxt->node;

	xmlSAX2EndElementNs(ctx, localname, prefix, uri);
	if (ps->aborted || !is_cin_child(node))
		return;
	if (ps->fn(ps->arg, node) != 0) {
		ps->aborted = true;
		xmlStopParser(ctxt);
		return;
	}
	xmlFreeNodeList(node->children);
	node->children = NULL;
	node->last = NULL;
	while (node->prev != NULL) {
		xmlNodePtr prev = node->prev;

		xmlUnlinkNode(prev);
		xmlFreeNode(prev);
	}
}

static xmlParserCtxtPtr new_parser(struct parse_state *ps)
{
	xmlParserCtxtPtr ctxt = xmlCreatePushParserCtxt(NULL, NULL, NULL, 0,
							 NULL);

	if (ctxt == NULL)
		return NULL;
	xmlCtxtUseOptions(ctxt, PARSE_OPTIONS);
	ctxt->_private = ps;
	ctxt->sax->internalSubset = on_doctype;
	ctxt->sax->externalSubset = on_doctype;
	ctxt->sax->serror = on_ctxt_error;
	if (ps->fn != NULL)
		ctxt->sax->endElementNs = on_end;
	return ctxt;
}

static bool stopped(const xmlParserCtxt *ctxt, const struct parse_state *ps)
{
	return ps->doctype || ps->aborted || !ctxt->wellFormed ||
	       ctxt->disableSAX || ctxt->instate == XML_PARSER_EOF;
}

/* Feeds the parser from fd, or from data when fd < 0. */
static bool feed(xmlParserCtxtPtr ctxt, struct parse_state *ps, int fd,
		 const char *data, size_t len)
{
	char *buf;
	ssize_t n;

	if (fd < 0) {
		xmlParseChunk(ctxt, data, (int)len, 1);
		return true;
	}
	buf = malloc(READ_CHUNK);
	if (buf == NULL)
		return false;
	for (;;) {
		n = read(fd, buf, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return false;
		}
		if (n == 0)
			break;
		xmlParseChunk(ctxt, buf, (int)n, 0);
		if (stopped(ctxt, ps))
			break;
	}
	free(buf);
	if (!stopped(ctxt, ps))
		xmlParseChunk(ctxt, NULL, 0, 1);
	return true;
}

static enum xmlrec_status run_parse(struct parse_state *ps, int fd,
				    const char *data, size_t len,
				    xmlDocPtr *out)
{
	xmlParserCtxtPtr ctxt;
	enum xmlrec_status st;
	bool read_ok, well_formed, no_memory;
	xmlDocPtr doc;

	*out = NULL;
	memset(ps->err, 0, sizeof *ps->err);
	if (fd < 0 && (len == 0 || len > INT_MAX))
		return XMLREC_MALFORMED;
	ctxt = new_parser(ps);
	if (ctxt == NULL)
		return XMLREC_NOMEM;
	xmlSetStructuredErrorFunc(ps, on_thread_error);
	read_ok = feed(ctxt, ps, fd, data, len);
	xmlSetStructuredErrorFunc(NULL, NULL);
	well_formed = ctxt->wellFormed && ctxt->nsWellFormed;
	no_memory = ctxt->errNo == XML_ERR_NO_MEMORY;
	doc = ctxt->myDoc;
	ctxt->myDoc = NULL;
	xmlFreeParserCtxt(ctxt);

	if (ps->doctype || (doc != NULL && (doc->intSubset != NULL ||
					    doc->extSubset != NULL)))
		st = XMLREC_DOCTYPE;
	else if (ps->aborted)
		st = XMLREC_ABORTED;
	else if (!read_ok)
		st = XMLREC_IO;
	else if (no_memory)
		st = XMLREC_NOMEM;
	else if (!well_formed || doc == NULL ||
		 xmlDocGetRootElement(doc) == NULL)
		st = XMLREC_MALFORMED;
	else
		st = XMLREC_OK;
	if (st != XMLREC_OK) {
		xmlFreeDoc(doc);
		return st;
	}
	*out = doc;
	return XMLREC_OK;
}

enum xmlrec_status xmlrec_parse_memory(const char *data, size_t len,
				       xmlDocPtr *out,
				       struct xmlrec_error *err)
{
	struct parse_state ps;

	memset(&ps, 0, sizeof ps);
	ps.err = err;
	return run_parse(&ps, -1, data, len, out);
}

enum xmlrec_status xmlrec_parse_fd(int fd, xmlrec_child_fn fn, void *arg,
				   bool *root_ok, struct xmlrec_error *err)
{
	struct parse_state ps;
	enum xmlrec_status st;
	xmlDocPtr doc;

	memset(&ps, 0, sizeof ps);
	ps.err = err;
	ps.fn = fn;
	ps.arg = arg;
	*root_ok = false;
	st = run_parse(&ps, fd, NULL, 0, &doc);
	if (st == XMLREC_OK) {
		xmlNodePtr root = xmlDocGetRootElement(doc);

		*root_ok = is_element(root, "Message");
		xmlFreeDoc(doc);
	}
	return st;
}

/* --- records ------------------------------------------------------------- */

void xmlrec_strip(xmlDocPtr doc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	size_t i;

	if (root == NULL)
		return;
	for (i = 0; i < SIM_ATTRS_N; i++)
		(void)xmlUnsetProp(root, X(sim_attrs[i]));
}

xmlDocPtr xmlrec_doc_from_node(xmlNodePtr node)
{
	xmlDocPtr doc = xmlNewDoc(X("1.0"));
	xmlNodePtr copy;

	if (doc == NULL)
		return NULL;
	copy = xmlDocCopyNode(node, doc, 1);
	if (copy == NULL) {
		xmlFreeDoc(doc);
		return NULL;
	}
	xmlDocSetRootElement(doc, copy);
	xmlrec_strip(doc);
	return doc;
}

xmlDocPtr xmlrec_tombstone(xmlDocPtr doc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	xmlDocPtr out = xmlNewDoc(X("1.0"));
	xmlNodePtr el;
	xmlNsPtr ns;

	if (out == NULL || root == NULL)
		goto fail;
	el = xmlNewDocNode(out, NULL, root->name, NULL);
	if (el == NULL)
		goto fail;
	xmlDocSetRootElement(out, el);
	if (root->ns != NULL) {
		ns = xmlNewNs(el, root->ns->href, root->ns->prefix);
		if (ns == NULL)
			goto fail;
		xmlSetNs(el, ns);
	}
	return out;
fail:
	xmlFreeDoc(out);
	return NULL;
}

/* --- serialisation ----------------------------------------------------- */

struct sink {
	int fd; /* -1: into buf */
	char *buf;
	size_t len;
	size_t cap;
	bool failed;
	int saved_errno;
};

static int sink_write(void *ctx, const char *data, int n)
{
	struct sink *s = ctx;
	size_t len = (size_t)n;

	if (n < 0 || s->failed)
		return -1;
	if (s->fd >= 0) {
		while (len > 0) {
			ssize_t w = write(s->fd, data, len);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				s->failed = true;
				s->saved_errno = w < 0 ? errno : EIO;
				return -1;
			}
			data += w;
			len -= (size_t)w;
		}
		return n;
	}
	if (s->len + len + 1 > s->cap) {
		size_t cap = s->cap == 0 ? 1024 : s->cap;
		char *p;

		while (cap < s->len + len + 1) {
			if (cap > SIZE_MAX / 2) {
				s->failed = true;
				return -1;
			}
			cap *= 2;
		}
		p = realloc(s->buf, cap);
		if (p == NULL) {
			s->failed = true;
			s->saved_errno = ENOMEM;
			return -1;
		}
		s->buf = p;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	s->buf[s->len] = '\0';
	return n;
}

/* The whole document (with the declaration) when node is NULL, else the
 * node alone. UTF-8, characters written as they are. */
static int save(struct sink *s, xmlDocPtr doc, xmlNodePtr node)
{
	xmlSaveCtxtPtr sc;
	int rc;

	sc = xmlSaveToIO(sink_write, NULL, s, "UTF-8",
			 node != NULL ? XML_SAVE_NO_DECL : 0);
	if (sc == NULL)
		return -1;
	if (node != NULL)
		rc = (int)xmlSaveTree(sc, node);
	else
		rc = (int)xmlSaveDoc(sc, doc);
	if (xmlSaveClose(sc) < 0 || rc < 0 || s->failed)
		return -1;
	return 0;
}

static char *save_string(xmlDocPtr doc, xmlNodePtr node, size_t *len)
{
	struct sink s;

	memset(&s, 0, sizeof s);
	s.fd = -1;
	if (save(&s, doc, node) != 0 || s.buf == NULL) {
		free(s.buf);
		return NULL;
	}
	if (len != NULL)
		*len = s.len;
	return s.buf;
}

int xmlrec_save_fd(xmlDocPtr doc, int fd)
{
	struct sink s;

	memset(&s, 0, sizeof s);
	s.fd = fd;
	if (save(&s, doc, NULL) != 0) {
		errno = s.saved_errno != 0 ? s.saved_errno : EIO;
		return -1;
	}
	return 0;
}

char *xmlrec_payload_text(xmlDocPtr doc, size_t *len)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);

	return root != NULL ? save_string(doc, root, len) : NULL;
}

/* Puts the attributes list first in front of el's own attributes. */
static void prepend_attrs(xmlNodePtr el, xmlAttrPtr first)
{
	xmlAttrPtr last = first;

	if (first == NULL)
		return;
	while (last->next != NULL)
		last = last->next;
	last->next = el->properties;
	if (el->properties != NULL)
		el->properties->prev = last;
	el->properties = first;
}

/* A copy of the record's element in out, with the simulator's attributes
 * first; not yet linked anywhere. */
static xmlNodePtr record_node(xmlDocPtr out, const struct xmlrec_owned *own,
			      xmlDocPtr doc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	xmlNodePtr el;
	xmlAttrPtr theirs;
	xmlAttrPtr mine;
	char ver[32];
	bool ok;

	if (root == NULL)
		return NULL;
	el = xmlDocCopyNode(root, out, 1);
	if (el == NULL)
		return NULL;
	snprintf(ver, sizeof ver, "%lld", own->version);
	/* Build the simulator's attributes on their own, then put them in
	 * front of the copied ones. */
	theirs = el->properties;
	el->properties = NULL;
	ok = xmlNewProp(el, X("id"), X(own->id)) != NULL &&
	     xmlNewProp(el, X("version"), X(ver)) != NULL &&
	     xmlNewProp(el, X("modified"), X(own->modified)) != NULL &&
	     (!own->deleted || xmlNewProp(el, X("deleted"), X("true")) != NULL);
	mine = el->properties;
	el->properties = theirs;
	prepend_attrs(el, mine);
	if (!ok) {
		xmlFreeNode(el);
		return NULL;
	}
	return el;
}

char *xmlrec_render_record(const struct xmlrec_owned *own, xmlDocPtr doc,
			   bool decl, size_t *len)
{
	xmlDocPtr out = xmlNewDoc(X("1.0"));
	xmlNodePtr el;
	char *text = NULL;

	if (out == NULL)
		return NULL;
	el = record_node(out, own, doc);
	if (el != NULL) {
		xmlDocSetRootElement(out, el);
		text = save_string(out, decl ? NULL : el, len);
	}
	xmlFreeDoc(out);
	return text;
}

xmlDocPtr xmlrec_feed_new(void)
{
	xmlDocPtr feed = xmlNewDoc(X("1.0"));
	xmlNodePtr root;

	if (feed == NULL)
		return NULL;
	root = xmlNewDocNode(feed, NULL, X("changes"), NULL);
	if (root == NULL) {
		xmlFreeDoc(feed);
		return NULL;
	}
	xmlDocSetRootElement(feed, root);
	return feed;
}

int xmlrec_feed_add(xmlDocPtr feed, const struct xmlrec_owned *own,
		    xmlDocPtr doc)
{
	xmlNodePtr el = record_node(feed, own, doc);

	if (el == NULL)
		return -1;
	if (xmlAddChild(xmlDocGetRootElement(feed), el) == NULL) {
		xmlFreeNode(el);
		return -1;
	}
	return 0;
}

char *xmlrec_feed_finish(xmlDocPtr feed, const char *next, bool more,
			 size_t *len)
{
	xmlNodePtr root = xmlDocGetRootElement(feed);
	char *text = NULL;

	/* The root was made without attributes, so these come out first. */
	if (xmlNewProp(root, X("next"), X(next)) != NULL &&
	    xmlNewProp(root, X("more"), X(more ? "true" : "false")) != NULL)
		text = save_string(feed, NULL, len);
	xmlFreeDoc(feed);
	return text;
}

int xmlrec_append_copy(xmlNodePtr parent, xmlDocPtr doc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	xmlNodePtr el;

	if (root == NULL)
		return -1;
	el = xmlDocCopyNode(root, parent->doc, 1);
	if (el == NULL)
		return -1;
	if (xmlAddChild(parent, el) == NULL) {
		xmlFreeNode(el);
		return -1;
	}
	return 0;
}

xmlNodePtr xmlrec_add_text_child(xmlNodePtr parent, const char *name,
				 const char *text)
{
	xmlNodePtr el = xmlNewDocNode(parent->doc, NULL, X(name), NULL);
	xmlNodePtr t;

	if (el == NULL)
		return NULL;
	if (text != NULL) {
		/* A text node: its content is taken as it is, never parsed
		 * for entity references. */
		t = xmlNewDocText(parent->doc, X(text));
		if (t == NULL || xmlAddChild(el, t) == NULL) {
			xmlFreeNode(t);
			xmlFreeNode(el);
			return NULL;
		}
	}
	if (xmlAddChild(parent, el) == NULL) {
		xmlFreeNode(el);
		return NULL;
	}
	return el;
}
