/* xml-stream.c - streams a CIN-census-shaped XML file through the
 * cin-census mapping, record by record, as an import does: each <Child> is
 * validated against the XSD as the file streams, decoded through the
 * mapping's XPaths into a canonical record (with its nested collections),
 * and freed. Prints "records peak_rss_kb" so bench/run can compare files
 * of different sizes.
 *
 * Usage: xml-stream MAPPINGS_DIR FILE XSD */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "codec.h"
#include "codec_xml.h"
#include "diag.h"
#include "mapping.h"
#include "record.h"

int main(int argc, char **argv)
{
	struct diag d;
	struct mapping_set *set;
	const struct map_entity *e;
	struct codec_xml_stream *s;
	struct rusage ru;
	char err[512];
	xmlNodePtr node;
	long n = 0;
	int line, rc;

	if (argc != 4) {
		fprintf(stderr, "usage: xml-stream MAPPINGS_DIR FILE XSD\n");
		return 2;
	}
	diag_init(&d);
	set = mapping_set_load(argv[1], "cin-census", &d);
	if (!set || !(e = mapping_find_entity(set, "person"))) {
		diag_print(&d, stderr);
		return 1;
	}
	diag_free(&d);
	s = codec_xml_stream_open(argv[2], e->records_loc, argv[3], err,
				  sizeof(err));
	if (!s) {
		fprintf(stderr, "xml-stream: %s: %s\n", argv[2], err);
		return 1;
	}
	while ((rc = codec_xml_stream_next(s, &node, &line, err,
					   sizeof(err))) == 1) {
		struct record *r = NULL;

		if (codec_xml_decode_record(e, node, &r, err, sizeof(err))) {
			fprintf(stderr, "xml-stream: line %d: %s\n", line, err);
			return 1;
		}
		record_free(r);
		n++;
	}
	codec_xml_stream_close(s);
	mapping_set_free(set);
	if (rc) {
		fprintf(stderr, "xml-stream: %s: %s\n", argv[2], err);
		return 1;
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("%ld %ld\n", n, ru.ru_maxrss);
	return 0;
}
