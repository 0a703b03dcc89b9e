/* lcs-sim: a stand-in for the council's case-management REST/JSON API,
 * used by casesync's tests, demo and benchmarks. See docs/simulator.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

#include "api.h"
#include "cin.h"
#include "oauth.h"
#include "park.h"
#include "tls.h"
#include "xmlrec.h"

#define PROG "lcs-sim"
#define THREAD_POOL_SIZE 4
#define CONNECTION_TIMEOUT_S 30
#define LOG_FIELD_MAX 256
#define STOP_WAIT_MS 2000
#define STREAM_BLOCK 4096
#define XML_TYPE "application/xml"

struct options {
	const char *listen;
	unsigned int port;
	const char *port_file;
	const char *fixture;
	const char *tls_cert;
	const char *tls_key;
	const char *tls_client_ca;
	const char *cin_fixture;
	const char *extract_dir;
	const char *import_dir;
	const char *oauth_client;
	const char *oauth_ttl_text;
	unsigned int oauth_ttl_s;
	const char *clock_offset_text;
	long long clock_offset_s;
	bool quiet;
};

struct server {
	struct api *api;
	struct tls_config tls;
	struct park *park; /* timed holds for delays, blackholes, trickles */
	bool https;
	bool client_certs; /* a verified client certificate is required */
	bool quiet;
};

struct conn_ctx {
	char *body;
	size_t len;
	size_t cap;
	bool too_large;
	bool out_of_memory;
	bool responded;
	struct fault fault; /* kind FAULT_NONE unless a rule matched */
	bool held;	    /* parked: park_done is owed */
	bool woken;	    /* the delay or blackhole hold is over */
	bool inflight;	    /* counted in the API's in-flight requests */
};

/* A response body sent by a content reader: slowly (trickle), cut short
 * (truncated) or without a Content-Length (big, chunked). */
struct stream {
	struct server *srv;
	struct MHD_Connection *conn;
	char *data;
	size_t limit;	     /* bytes to send, at most the data's length */
	bool fail_at_limit;  /* then close as an error (truncated) */
	size_t step;	     /* bytes per call, 0 for as many as fit */
	unsigned int interval_ms;
	uint64_t next_ms;
	bool held;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *out)
{
	fputs("usage: " PROG " [--listen ADDR] [--port N] [--port-file FILE]\n"
	      "               [--fixture FILE] [--cin-fixture FILE]\n"
	      "               [--extract-dir DIR] [--import-dir DIR]\n"
	      "               [--oauth-client ID:SECRET [--oauth-token-ttl S]]\n"
	      "               [--tls-cert FILE --tls-key FILE\n"
	      "               [--tls-client-ca FILE]] [--clock-offset SECONDS]\n"
	      "               [--quiet] [--help]\n"
	      "\n"
	      "  --listen ADDR         IPv4 or IPv6 address to bind (default 127.0.0.1)\n"
	      "  --port N              TCP port, 0 picks a free one (default 0)\n"
	      "  --port-file FILE      write the bound port to FILE once listening\n"
	      "  --fixture FILE        JSON seed data, reloaded by POST /_sim/reset\n"
	      "  --cin-fixture FILE    Children in Need census file: XML collection\n"
	      "                        \"children\", reloaded by POST /_sim/reset\n"
	      "  --extract-dir DIR     POST /_sim/extract writes census files here\n"
	      "  --import-dir DIR      POST /_sim/import reads census files from here\n"
	      "  --oauth-client ID:SECRET  require OAuth2 bearer tokens from\n"
	      "                        POST /oauth/token (client credentials)\n"
	      "  --oauth-token-ttl S   token lifetime in seconds (default 3600)\n"
	      "  --tls-cert FILE       PEM server certificate (and chain): serve HTTPS only\n"
	      "  --tls-key FILE        PEM private key of --tls-cert, unencrypted\n"
	      "  --tls-client-ca FILE  PEM CA: require a client certificate it signed\n"
	      "  --clock-offset SECONDS  shift the simulator's clock (modified times,\n"
	      "                        Date header) by -315576000 to 315576000 s\n"
	      "  --quiet               do not log requests to stderr\n",
	      out);
}

/* Matches "--name VALUE" and "--name=VALUE": 1 when matched, 0 when argv[*i]
 * is another option, -1 when the value is missing. */
static int take_value(const char *name, int argc, char **argv, int *i,
		      const char **value)
{
	const char *arg = argv[*i];
	size_t n = strlen(name);

	if (strncmp(arg, name, n) != 0)
		return 0;
	if (arg[n] == '=') {
		*value = arg + n + 1;
		return 1;
	}
	if (arg[n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*i += 1;
	*value = argv[*i];
	return 1;
}

static int parse_port(const char *text, unsigned int *port)
{
	char *end;
	long v;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > 65535)
		return -1;
	*port = (unsigned int)v;
	return 0;
}

/* Seconds, 1 to OAUTH_MAX_TTL. */
static int parse_ttl(const char *text, unsigned int *ttl)
{
	char *end;
	unsigned long v;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > OAUTH_MAX_TTL)
		return -1;
	*ttl = (unsigned int)v;
	return 0;
}

/* The combinations of options; -1 (reported) when one is wrong. */
static int check_options(struct options *opt)
{
	const char *colon;

	if ((opt->tls_cert == NULL) != (opt->tls_key == NULL)) {
		fprintf(stderr, PROG ": --tls-cert and --tls-key go together\n");
		return -1;
	}
	if (opt->tls_client_ca != NULL && opt->tls_cert == NULL) {
		fprintf(stderr, PROG ": --tls-client-ca needs --tls-cert and "
			"--tls-key\n");
		return -1;
	}
	if (opt->oauth_client != NULL) {
		/* Never quote the value: it holds the secret. */
		colon = strchr(opt->oauth_client, ':');
		if (colon == NULL || colon == opt->oauth_client ||
		    colon[1] == '\0') {
			fprintf(stderr, PROG ": --oauth-client must be "
				"ID:SECRET, both non-empty\n");
			return -1;
		}
	}
	if (opt->clock_offset_text != NULL &&
	    simclock_parse_offset(opt->clock_offset_text,
				  &opt->clock_offset_s) != 0) {
		fprintf(stderr, PROG ": invalid --clock-offset: %s (%lld to %lld "
			"seconds)\n", opt->clock_offset_text,
			-SIMCLOCK_MAX_OFFSET, SIMCLOCK_MAX_OFFSET);
		return -1;
	}
	if (opt->oauth_ttl_text != NULL) {
		if (opt->oauth_client == NULL) {
			fprintf(stderr, PROG ": --oauth-token-ttl needs "
				"--oauth-client\n");
			return -1;
		}
		if (parse_ttl(opt->oauth_ttl_text, &opt->oauth_ttl_s) != 0) {
			fprintf(stderr, PROG ": invalid --oauth-token-ttl: %s "
				"(1 to %u seconds)\n", opt->oauth_ttl_text,
				OAUTH_MAX_TTL);
			return -1;
		}
	}
	return 0;
}

/* Returns 0 to run, 1 after --help, -1 on bad usage (already reported). */
static int parse_args(int argc, char **argv, struct options *opt)
{
	static const char *const names[] = {
		"--listen", "--port", "--port-file", "--fixture",
		"--tls-cert", "--tls-key", "--tls-client-ca",
		"--cin-fixture", "--extract-dir", "--import-dir",
		"--oauth-client", "--oauth-token-ttl", "--clock-offset",
	};
	const char **targets[] = {
		&opt->listen, NULL, &opt->port_file, &opt->fixture,
		&opt->tls_cert, &opt->tls_key, &opt->tls_client_ca,
		&opt->cin_fixture, &opt->extract_dir, &opt->import_dir,
		&opt->oauth_client, &opt->oauth_ttl_text,
		&opt->clock_offset_text,
	};
	int i;

	for (i = 1; i < argc; i++) {
		const char *value = NULL;
		size_t k;
		int rc = 0;

		if (strcmp(argv[i], "--help") == 0)
			return 1;
		if (strcmp(argv[i], "--quiet") == 0) {
			opt->quiet = true;
			continue;
		}
		for (k = 0; k < sizeof names / sizeof names[0]; k++) {
			rc = take_value(names[k], argc, argv, &i, &value);
			if (rc != 0)
				break;
		}
		if (rc == 0) {
			/* Up to any "=": a mistyped --oauth-client=ID:SECRET
			 * must not print the secret. */
			fprintf(stderr, PROG ": unknown argument: %.*s\n",
				(int)strcspn(argv[i], "="), argv[i]);
			return -1;
		}
		if (rc < 0) {
			fprintf(stderr, PROG ": %s needs a value\n", names[k]);
			return -1;
		}
		if (targets[k] != NULL) {
			*targets[k] = value;
		} else if (parse_port(value, &opt->port) != 0) {
			fprintf(stderr, PROG ": invalid port: %s\n", value);
			return -1;
		}
	}
	return check_options(opt);
}

static const char *json_problem(const json_error_t *jerr)
{
	switch (json_error_code(jerr)) {
	case json_error_out_of_memory:
		return "out of memory";
	case json_error_stack_overflow:
		return "nesting too deep";
	case json_error_invalid_utf8:
		return "invalid UTF-8";
	case json_error_premature_end_of_input:
		return "unexpected end of input";
	case json_error_end_of_input_expected:
		return "trailing data after the JSON value";
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return "NUL character";
	case json_error_duplicate_key:
		return "duplicate member name";
	case json_error_numeric_overflow:
		return "number out of range";
	default:
		return "invalid JSON";
	}
}

static json_t *read_fixture(const char *path)
{
	json_error_t jerr;
	json_t *root;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		fprintf(stderr, PROG ": fixture %s: %s\n", path,
			strerror(errno));
		return NULL;
	}
	root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	fclose(f);
	/* jansson's error text can quote the input, so only its position and
	 * error class are reported. */
	if (root == NULL)
		fprintf(stderr, PROG ": fixture %s: %s at line %d, column %d\n",
			path, json_problem(&jerr), jerr.line, jerr.column);
	return root;
}

/* The XML fixture, streamed and checked now; reported when invalid. */
static int read_cin_fixture(const char *path, struct cin_batch *batch)
{
	char problem[CIN_PROBLEM_MAX];

	if (cin_read_path(path, batch, problem, sizeof problem) == 0)
		return 0;
	fprintf(stderr, PROG ": cin fixture %s: %s\n", path, problem);
	return -1;
}

static struct api *create_api(const struct options *opt)
{
	struct api_config cfg;
	struct api *api;
	char err[256];

	memset(&cfg, 0, sizeof cfg);
	cfg.extract_dir = opt->extract_dir;
	cfg.import_dir = opt->import_dir;
	cfg.oauth_client = opt->oauth_client;
	cfg.oauth_ttl_s = opt->oauth_ttl_s;
	cfg.clock_offset_s = opt->clock_offset_s;
	if ((opt->extract_dir != NULL &&
	     !cin_check_dir("--extract-dir", opt->extract_dir)) ||
	    (opt->import_dir != NULL &&
	     !cin_check_dir("--import-dir", opt->import_dir)))
		return NULL;
	if (opt->cin_fixture != NULL &&
	    read_cin_fixture(opt->cin_fixture, &cfg.cin) != 0)
		return NULL;
	if (opt->fixture != NULL) {
		cfg.fixture = read_fixture(opt->fixture);
		if (cfg.fixture == NULL) {
			cin_batch_free(&cfg.cin);
			return NULL;
		}
	}
	api = api_new(&cfg, err, sizeof err);
	if (api == NULL && err[0] != '\0')
		fprintf(stderr, PROG ": fixture %s: %s\n",
			opt->fixture != NULL ? opt->fixture : "-", err);
	else if (api == NULL)
		fprintf(stderr, PROG ": out of memory\n");
	return api;
}

/* Copies at most LOG_FIELD_MAX bytes, masking anything unprintable so a
 * crafted path cannot forge log lines. */
static void log_safe(char *dst, const char *src)
{
	size_t i;

	for (i = 0; i < LOG_FIELD_MAX && src[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = ch > 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	dst[i] = '\0';
}

/* "METHOD PATH STATUS", with " fault=NAME" for an injected fault and "-"
 * as the status when no answer was sent. */
static void log_request(const struct server *srv, const char *method,
			const char *url, unsigned int status,
			const struct fault *f)
{
	char m[LOG_FIELD_MAX + 1];
	char u[LOG_FIELD_MAX + 1];
	char st[16] = "-";

	if (srv->quiet)
		return;
	log_safe(m, method);
	log_safe(u, url);
	if (status != 0)
		snprintf(st, sizeof st, "%u", status);
	if (f != NULL && f->kind != FAULT_NONE)
		fprintf(stderr, PROG ": %s %s %s fault=%s\n", m, u, st,
			fault_name(f->kind));
	else
		fprintf(stderr, PROG ": %s %s %s\n", m, u, st);
}

static bool add_header(struct MHD_Response *resp, const char *name,
		       const char *value)
{
	return value == NULL ||
	       MHD_add_response_header(resp, name, value) == MHD_YES;
}

/* --- timed holds ---------------------------------------------------------- */

static void suspend_conn(void *conn)
{
	MHD_suspend_connection(conn);
}

static void resume_conn(void *conn)
{
	MHD_resume_connection(conn);
}

/* Suspends the connection until deadline; false (nothing suspended) once
 * the server is stopping. *held stays true until unhold. */
static bool hold_until(struct server *srv, struct MHD_Connection *conn,
		       bool *held, uint64_t deadline)
{
	*held = park_hold(srv->park, conn, deadline);
	return *held;
}

static void unhold(struct server *srv, bool *held)
{
	if (*held) {
		*held = false;
		park_done(srv->park);
	}
}

/* --- response bodies -------------------------------------------------------- */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	size_t n;

	unhold(s->srv, &s->held);
	if (pos >= s->limit)
		return s->fail_at_limit ? MHD_CONTENT_READER_END_WITH_ERROR
					: MHD_CONTENT_READER_END_OF_STREAM;
	if (s->interval_ms > 0) {
		uint64_t now = park_now_ms();

		if (now < s->next_ms) {
			/* MHD calls again once the connection is resumed. */
			if (hold_until(s->srv, s->conn, &s->held, s->next_ms))
				return 0;
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		s->next_ms = now + s->interval_ms;
	}
	n = s->limit - (size_t)pos;
	if (n > max)
		n = max;
	if (s->step > 0 && n > s->step)
		n = s->step;
	memcpy(buf, s->data + pos, n);
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;

	unhold(s->srv, &s->held);
	free(s->data);
	free(s);
}

/* Takes data in every case. size is the declared Content-Length, or
 * MHD_SIZE_UNKNOWN for a chunked answer; limit the bytes sent. A trickle
 * sends them slowly, a truncated answer closes as an error after them. */
static struct MHD_Response *stream_response(struct server *srv,
					    struct MHD_Connection *conn,
					    const struct fault *f, char *data,
					    uint64_t size, size_t limit)
{
	struct stream *s = calloc(1, sizeof *s);
	struct MHD_Response *resp;

	if (s == NULL) {
		free(data);
		return NULL;
	}
	s->srv = srv;
	s->conn = conn;
	s->data = data;
	s->limit = limit;
	s->fail_at_limit = f->kind == FAULT_TRUNCATED;
	if (f->kind == FAULT_TRICKLE) {
		s->step = f->bytes;
		s->interval_ms = f->ms;
	}
	resp = MHD_create_response_from_callback(size, STREAM_BLOCK,
						 &stream_read, s, &stream_free);
	if (resp == NULL)
		stream_free(s);
	return resp;
}

/* The JSON object text in body grown to at least size bytes with a
 * "_padding" member; a missing body counts as {}. Takes body. */
static char *pad_json(char *body, size_t size, size_t *len)
{
	static const char member[] = "\"_padding\":\"";
	const char *base = body != NULL ? body : "{}";
	size_t n = strlen(base);
	size_t fixed, fill;
	bool comma;
	char *out, *p;

	if (n < 2 || base[n - 1] != '}') {
		base = "{}";
		n = 2;
	}
	comma = n > 2;
	/* base without its '}', [","] "_padding":" fill "} */
	fixed = (n - 1) + (comma ? 1 : 0) + (sizeof member - 1) + 2;
	fill = size > fixed ? size - fixed : 0;
	out = malloc(fixed + fill + 1);
	if (out != NULL) {
		p = out;
		memcpy(p, base, n - 1);
		p += n - 1;
		if (comma)
			*p++ = ',';
		memcpy(p, member, sizeof member - 1);
		p += sizeof member - 1;
		memset(p, 'x', fill);
		p += fill;
		memcpy(p, "\"}", 3);
		*len = fixed + fill;
	}
	free(body);
	return out;
}

/* The XML document text in body grown to at least size bytes with a
 * trailing comment <!--xxx...-->, so it stays well-formed. Takes body. */
static char *pad_xml(char *body, size_t size, size_t *len)
{
	static const char open[] = "<!--";
	static const char close[] = "-->";
	const char *base = body != NULL ? body : "";
	size_t n = strlen(base);
	size_t fixed = n + (sizeof open - 1) + (sizeof close - 1);
	size_t fill = size > fixed ? size - fixed : 0;
	char *out = malloc(fixed + fill + 1);
	char *p;

	if (out != NULL) {
		p = out;
		memcpy(p, base, n);
		p += n;
		memcpy(p, open, sizeof open - 1);
		p += sizeof open - 1;
		memset(p, 'x', fill);
		p += fill;
		memcpy(p, close, sizeof close);
		*len = fixed + fill;
	}
	free(body);
	return out;
}

static bool is_xml_reply(const struct api_reply *reply)
{
	return reply->content_type != NULL &&
	       strcmp(reply->content_type, XML_TYPE) == 0;
}

/* The reply's body shaped by the connection's fault; takes reply->body. */
static struct MHD_Response *body_response(struct server *srv,
					  struct MHD_Connection *conn,
					  const struct fault *f,
					  struct api_reply *reply)
{
	char *body = reply->body;
	size_t len = body != NULL ? strlen(body) : 0;
	struct MHD_Response *resp;

	reply->body = NULL;
	switch (f->kind) {
	case FAULT_TRICKLE:
		return stream_response(srv, conn, f, body, len, len);
	case FAULT_TRUNCATED:
		/* Half the answer, or all of a tiny one, under a
		 * Content-Length it never reaches. */
		return stream_response(srv, conn, f, body,
				       len >= 2 ? len : len + 64,
				       len >= 2 ? len / 2 : len);
	case FAULT_BIG:
		if (is_xml_reply(reply))
			body = pad_xml(body, f->bytes, &len);
		else
			body = pad_json(body, f->bytes, &len);
		if (body == NULL)
			return NULL;
		if (f->chunked)
			return stream_response(srv, conn, f, body,
					       MHD_SIZE_UNKNOWN, len);
		break;
	default:
		break;
	}
	resp = MHD_create_response_from_buffer_with_free_callback(
		len, body, body != NULL ? &free : NULL);
	if (resp == NULL)
		free(body);
	return resp;
}

/* Hands reply->body over to the response. */
static struct MHD_Response *build_response(struct server *srv,
					   struct MHD_Connection *conn,
					   const struct fault *f,
					   struct api_reply *reply)
{
	bool has_body = reply->body != NULL || f->kind == FAULT_BIG;
	struct MHD_Response *resp = body_response(srv, conn, f, reply);
	char date[SIMCLOCK_TEXT_SIZE];

	if (resp == NULL)
		return NULL;
	/* From the shifted clock (MHD adds none, see start_daemon). */
	api_http_date(srv->api, date);
	if (!add_header(resp, "Date", date) ||
	    (has_body &&
	     !add_header(resp, "Content-Type",
			 reply->content_type != NULL ? reply->content_type
						     : "application/json")) ||
	    !add_header(resp, "WWW-Authenticate", reply->www_authenticate) ||
	    !add_header(resp, "Cache-Control",
			reply->no_store ? "no-store" : NULL) ||
	    !add_header(resp, "Pragma", reply->no_store ? "no-cache" : NULL) ||
	    !add_header(resp, "ETag", reply->etag) ||
	    !add_header(resp, "Location", reply->location) ||
	    !add_header(resp, "Allow", reply->allow) ||
	    !add_header(resp, "Idempotent-Replayed",
			reply->replayed ? "true" : NULL) ||
	    !add_header(resp, "Retry-After",
			f->kind == FAULT_STATUS && f->has_retry_after ?
			f->retry_after : NULL))
		goto fail;
	return resp;
fail:
	MHD_destroy_response(resp);
	return NULL;
}

/* The request is no longer in flight: answered, or dropped. */
static void inflight_done(struct server *srv, struct conn_ctx *ctx)
{
	if (ctx->inflight) {
		ctx->inflight = false;
		api_inflight_end(srv->api);
	}
}

/* Queues the reply and logs the request; frees the reply. */
static enum MHD_Result send_reply(struct server *srv,
				  struct MHD_Connection *conn, const char *url,
				  const char *method, struct conn_ctx *ctx,
				  struct api_reply *reply)
{
	const struct fault *f = &ctx->fault;
	struct MHD_Response *resp;
	enum MHD_Result ret = MHD_NO;

	resp = build_response(srv, conn, f, reply);
	if (resp != NULL) {
		ret = MHD_queue_response(conn, reply->status, resp);
		MHD_destroy_response(resp);
	}
	inflight_done(srv, ctx);
	log_request(srv, method, url, reply->status, f);
	api_reply_free(reply);
	return ret;
}

static void fill_request(struct MHD_Connection *conn, const char *url,
			 const char *method, const struct conn_ctx *ctx,
			 struct api_request *req)
{
	memset(req, 0, sizeof *req);
	req->method = method;
	req->path = url;
	req->body = ctx->body;
	req->body_len = ctx->len;
	req->body_too_large = ctx->too_large;
	req->out_of_memory = ctx->out_of_memory;
	req->if_match = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						    "If-Match");
	req->authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							 "Authorization");
	req->idem_key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						    "Idempotency-Key");
	req->since = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
						 "since");
	req->limit = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
						 "limit");
	if (ctx->fault.kind != FAULT_NONE)
		req->fault = fault_name(ctx->fault.kind);
}

/* The API's answer, shaped by a delay, trickle, truncated or big fault. */
static enum MHD_Result respond(struct server *srv,
			       struct MHD_Connection *conn, const char *url,
			       const char *method, struct conn_ctx *ctx)
{
	struct api_request req;
	struct api_reply reply;

	fill_request(conn, url, method, ctx, &req);
	api_handle(srv->api, &req, &reply);
	ctx->responded = true;
	return send_reply(srv, conn, url, method, ctx, &reply);
}

/* Records a request that a fault answers (status) or drops (0) instead
 * of the API. */
static void note_fault(struct server *srv, struct MHD_Connection *conn,
		       const char *url, const char *method,
		       const struct conn_ctx *ctx, bool body_read,
		       unsigned int status)
{
	struct api_request req;

	fill_request(conn, url, method, ctx, &req);
	req.body_unread = !body_read;
	api_note(srv->api, &req, status);
	if (status == 0)
		log_request(srv, method, url, 0, &ctx->fault);
}

/* A status or malformed fault: an answer made up without the API. */
static enum MHD_Result answer_fault(struct server *srv,
				    struct MHD_Connection *conn,
				    const char *url, const char *method,
				    struct conn_ctx *ctx)
{
	static const char injected[] = "{\"error\":\"injected fault\"}";
	static const char malformed[] = "{\"items\":[{\"id\":\"1\",\"version\":";
	static const char malformed_xml[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<changes next=\"1\" more=\"false\"><Child id=\"1\" version=";
	const struct fault *f = &ctx->fault;
	bool is_status = f->kind == FAULT_STATUS;
	bool xml = !is_status && strncmp(url, "/xml/", 5) == 0;
	const char *text = is_status ? injected : xml ? malformed_xml : malformed;
	struct api_reply reply;
	size_t n = strlen(text) + 1;

	memset(&reply, 0, sizeof reply);
	reply.status = is_status ? f->status : 200;
	if (xml)
		reply.content_type = XML_TYPE;
	reply.body = malloc(n);
	if (reply.body == NULL)
		return MHD_NO;
	memcpy(reply.body, text, n);
	note_fault(srv, conn, url, method, ctx, true, reply.status);
	ctx->responded = true;
	return send_reply(srv, conn, url, method, ctx, &reply);
}

/* Drops the connection without an answer, with a TCP reset: on Linux,
 * connect() to AF_UNSPEC disconnects a TCP socket with an RST while the
 * descriptor stays MHD's to close (SO_LINGER 0 is the fallback: MHD sends
 * a FIN before it closes). Returning MHD_NO makes MHD close it. */
static enum MHD_Result reset_connection(struct server *srv,
					struct MHD_Connection *conn,
					const char *url, const char *method,
					struct conn_ctx *ctx, bool body_read)
{
	const union MHD_ConnectionInfo *ci;
	struct linger lg = { 1, 0 };
	struct sockaddr sa;

	note_fault(srv, conn, url, method, ctx, body_read, 0);
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL) {
		memset(&sa, 0, sizeof sa);
		sa.sa_family = AF_UNSPEC;
		(void)setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg,
				 sizeof lg);
		(void)connect(ci->connect_fd, &sa, sizeof sa);
	}
	ctx->responded = true;
	inflight_done(srv, ctx);
	return MHD_NO;
}

/* Answers a request whose client certificate did not verify, without
 * passing it to the API (so /_sim/stats does not count it). Only reached
 * if the handshake let such a client through, see tls_require_client_cert. */
static enum MHD_Result refuse_client(struct server *srv,
				     struct MHD_Connection *conn,
				     const char *url, const char *method,
				     struct conn_ctx *ctx)
{
	static const char body[] = "{\"error\":\"client certificate required\"}";
	struct api_reply reply;

	memset(&reply, 0, sizeof reply);
	reply.status = 403;
	reply.body = malloc(sizeof body);
	if (reply.body == NULL)
		return MHD_NO;
	memcpy(reply.body, body, sizeof body);
	ctx->responded = true;
	return send_reply(srv, conn, url, method, ctx, &reply);
}

/* The whole request is in (or refused as too large): answer it, applying
 * the connection's fault. */
static enum MHD_Result finish(struct server *srv, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      struct conn_ctx *ctx)
{
	const struct fault *f = &ctx->fault;

	switch (f->kind) {
	case FAULT_DELAY:
		if (!ctx->woken) {
			ctx->woken = true;
			if (hold_until(srv, conn, &ctx->held,
				       park_now_ms() + f->ms))
				return MHD_YES;
		}
		return respond(srv, conn, url, method, ctx);
	case FAULT_BLACKHOLE:
		if (!ctx->woken) {
			ctx->woken = true;
			note_fault(srv, conn, url, method, ctx, true, 0);
			if (hold_until(srv, conn, &ctx->held,
				       park_now_ms() + f->ms))
				return MHD_YES;
		}
		/* Held long enough, or stopping: close, still unanswered. */
		ctx->responded = true;
		inflight_done(srv, ctx);
		return MHD_NO;
	case FAULT_RESET:
		return reset_connection(srv, conn, url, method, ctx, true);
	case FAULT_STATUS:
	case FAULT_MALFORMED:
		return answer_fault(srv, conn, url, method, ctx);
	case FAULT_NONE:
	case FAULT_TRICKLE:
	case FAULT_TRUNCATED:
	case FAULT_BIG:
		break;
	}
	return respond(srv, conn, url, method, ctx);
}

static bool declared_too_large(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     "Content-Length");
	unsigned long long n;
	char *end;

	if (cl == NULL || cl[0] < '0' || cl[0] > '9')
		return false;
	errno = 0;
	n = strtoull(cl, &end, 10);
	if (*end != '\0')
		return false;
	return errno == ERANGE || n > API_MAX_BODY;
}

static void append_upload(struct conn_ctx *ctx, const char *data, size_t n)
{
	size_t cap = ctx->cap;
	char *body;

	if (ctx->too_large || ctx->out_of_memory)
		return;
	if (n > API_MAX_BODY - ctx->len) {
		/* Keep draining the upload, but stop storing it. */
		ctx->too_large = true;
		return;
	}
	if (ctx->len + n > cap) {
		if (cap == 0)
			cap = 4096;
		while (cap < ctx->len + n)
			cap *= 2;
		body = realloc(ctx->body, cap);
		if (body == NULL) {
			ctx->out_of_memory = true;
			return;
		}
		ctx->body = body;
		ctx->cap = cap;
	}
	memcpy(ctx->body + ctx->len, data, n);
	ctx->len += n;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct server *srv = cls;
	struct conn_ctx *ctx = *con_cls;

	(void)version;
	if (ctx == NULL) {
		ctx = calloc(1, sizeof *ctx);
		if (ctx == NULL)
			return MHD_NO;
		*con_cls = ctx;
		if (srv->client_certs && !tls_client_verified(conn))
			return refuse_client(srv, conn, url, method, ctx);
		if (api_counts_inflight(url)) {
			ctx->inflight = true;
			api_inflight_begin(srv->api);
		}
		api_take_fault(srv->api, method, url, &ctx->fault);
		if (ctx->fault.kind == FAULT_RESET && ctx->fault.before_body)
			return reset_connection(srv, conn, url, method, ctx,
						false);
		/* Reject an announced oversized body before reading it. */
		if (!declared_too_large(conn))
			return MHD_YES;
		ctx->too_large = true;
		return finish(srv, conn, url, method, ctx);
	}
	/* Called again after a hold: the connection was resumed. */
	unhold(srv, &ctx->held);
	if (*upload_data_size != 0) {
		if (!ctx->responded)
			append_upload(ctx, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (ctx->responded)
		return MHD_YES;
	return finish(srv, conn, url, method, ctx);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct conn_ctx *ctx = *con_cls;

	(void)conn;
	(void)toe;
	if (ctx == NULL)
		return;
	unhold(srv, &ctx->held);
	inflight_done(srv, ctx);
	free(ctx->body);
	free(ctx);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	(void)cls;
	(void)socket_context;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		tls_require_client_cert(conn);
}

static int make_sockaddr(const char *addr, unsigned int port,
			 struct sockaddr_storage *ss, bool *ipv6)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*ipv6 = false;
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*ipv6 = true;
		return 0;
	}
	return -1;
}

static struct MHD_Daemon *start_daemon(const struct options *opt,
				       struct server *srv)
{
	struct sockaddr_storage ss;
	/* Every answer of the simulator sets its own Date from the shifted
	 * clock; MHD's own error answers (never passed to the simulator)
	 * then carry none rather than one from the unshifted clock. */
	unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
			     MHD_ALLOW_SUSPEND_RESUME |
			     MHD_USE_SUPPRESS_DATE_NO_CLOCK;
	struct MHD_OptionItem tls_opts[5];
	size_t n = 0;
	struct MHD_Daemon *d;
	bool ipv6;

	if (make_sockaddr(opt->listen, opt->port, &ss, &ipv6) != 0) {
		fprintf(stderr, PROG ": invalid listen address: %s\n",
			opt->listen);
		return NULL;
	}
	if (ipv6)
		flags |= MHD_USE_IPv6;
	if (srv->https) {
		flags |= MHD_USE_TLS;
		tls_opts[n++] = (struct MHD_OptionItem){
			MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls.cert };
		tls_opts[n++] = (struct MHD_OptionItem){
			MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls.key };
	}
	if (srv->client_certs) {
		tls_opts[n++] = (struct MHD_OptionItem){
			MHD_OPTION_HTTPS_MEM_TRUST, 0, srv->tls.client_ca };
		tls_opts[n++] = (struct MHD_OptionItem){
			MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)&on_connection,
			NULL };
	}
	tls_opts[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	d = MHD_start_daemon(flags, (uint16_t)opt->port, NULL, NULL,
			     &on_request, srv, MHD_OPTION_SOCK_ADDR,
			     (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED,
			     &on_completed, srv, MHD_OPTION_THREAD_POOL_SIZE,
			     (unsigned int)THREAD_POOL_SIZE,
			     MHD_OPTION_CONNECTION_TIMEOUT,
			     (unsigned int)CONNECTION_TIMEOUT_S, MHD_OPTION_ARRAY,
			     tls_opts, MHD_OPTION_END);
	if (d == NULL && srv->https)
		fprintf(stderr, PROG ": cannot serve HTTPS on %s port %u (port "
			"in use, or GnuTLS refused the certificate or key)\n",
			opt->listen, opt->port);
	else if (d == NULL)
		fprintf(stderr, PROG ": cannot listen on %s port %u\n",
			opt->listen, opt->port);
	return d;
}

static int write_port_file(const char *path, unsigned int port)
{
	size_t n = strlen(path) + sizeof ".tmp";
	char *tmp = malloc(n);
	FILE *f = NULL;
	int rc = -1;
	int saved = ENOMEM;

	if (tmp == NULL)
		goto out;
	snprintf(tmp, n, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL || fprintf(f, "%u\n", port) < 0) {
		saved = errno;
		goto out;
	}
	rc = fclose(f);
	f = NULL;
	if (rc != 0 || rename(tmp, path) != 0) {
		saved = errno;
		rc = -1;
		remove(tmp);
	}
out:
	if (f != NULL)
		fclose(f);
	if (rc != 0)
		fprintf(stderr, PROG ": cannot write port file %s: %s\n", path,
			strerror(saved));
	free(tmp);
	return rc;
}

static int install_signal_handlers(sigset_t *stop_signals)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(stop_signals);
	sigaddset(stop_signals, SIGTERM);
	sigaddset(stop_signals, SIGINT);
	if (sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGINT, &sa, NULL) != 0)
		return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}

static void wait_for_stop(void)
{
	const struct timespec tick = { 0, 100 * 1000 * 1000 };

	while (!stop_requested)
		nanosleep(&tick, NULL);
}

static int run(const struct options *opt, struct server *srv)
{
	sigset_t stop_signals;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	unsigned int port = 0;
	int rc = 1;

	if (install_signal_handlers(&stop_signals) != 0) {
		fprintf(stderr, PROG ": cannot install signal handlers\n");
		return 1;
	}
	/* MHD's threads inherit this mask, so stop signals reach the main
	 * thread and interrupt its sleep promptly. */
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	srv->park = park_new(&suspend_conn, &resume_conn);
	d = srv->park != NULL ? start_daemon(opt, srv) : NULL;
	pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL);
	if (srv->park == NULL)
		fprintf(stderr, PROG ": cannot start the hold timer thread\n");
	if (d == NULL) {
		park_free(srv->park);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (info != NULL)
		port = info->port;
	if (port == 0) {
		fprintf(stderr, PROG ": cannot determine the bound port\n");
		goto out;
	}
	if (opt->port_file != NULL && write_port_file(opt->port_file, port))
		goto out;
	if (!opt->quiet)
		fprintf(stderr, PROG ": listening on %s port %u%s\n",
			opt->listen, port,
			!srv->https ? "" :
			srv->client_certs ? " (HTTPS, client certificates)" :
			" (HTTPS)");
	wait_for_stop();
	rc = 0;
out:
	/* MHD must not be stopped with suspended connections. */
	park_stop(srv->park, STOP_WAIT_MS);
	MHD_stop_daemon(d);
	park_free(srv->park);
	return rc;
}

/* Loads the TLS files when HTTPS was asked for. 0 or -1 (reported). */
static int setup_tls(const struct options *opt, struct server *srv)
{
	if (opt->tls_cert == NULL)
		return 0;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		fprintf(stderr, PROG ": --tls-cert: this libmicrohttpd was "
			"built without TLS support\n");
		return -1;
	}
	if (tls_config_load(&srv->tls, opt->tls_cert, opt->tls_key,
			    opt->tls_client_ca) != 0)
		return -1;
	srv->https = true;
	srv->client_certs = opt->tls_client_ca != NULL;
	return 0;
}

int main(int argc, char **argv)
{
	struct options opt;
	struct server srv;
	int rc;

	memset(&opt, 0, sizeof opt);
	opt.listen = "127.0.0.1";
	opt.oauth_ttl_s = OAUTH_DEFAULT_TTL;
	rc = parse_args(argc, argv, &opt);
	if (rc != 0) {
		usage(rc > 0 ? stdout : stderr);
		return rc > 0 ? 0 : 2;
	}
	memset(&srv, 0, sizeof srv);
	srv.quiet = opt.quiet;
	/* Before any other thread exists. */
	xmlrec_init();
	if (setup_tls(&opt, &srv) != 0) {
		xmlrec_cleanup();
		return 1;
	}
	srv.api = create_api(&opt);
	if (srv.api == NULL) {
		tls_config_free(&srv.tls);
		xmlrec_cleanup();
		return 1;
	}
	rc = run(&opt, &srv);
	api_free(srv.api);
	tls_config_free(&srv.tls);
	xmlrec_cleanup();
	if (rc == 0 && !opt.quiet)
		fprintf(stderr, PROG ": stopped\n");
	return rc;
}
