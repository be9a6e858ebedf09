/* The route table's matching (control/vw_routes): placeholders, methods, and the JSON 404/405
 * answers when nothing fits. */
#include "vw_routes.h"
#include "vw_test.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const struct vw_route table[] = {
	{"GET", "/metrics", NULL},
	{"GET POST PUT", "/api/feeds/{}/controls", NULL},
	{"POST PUT", "/api/streams", NULL},
	{"GET DELETE", "/api/streams/{...}", NULL},
	{"GET", "/api/x/{}", NULL},
	{"DELETE", "/api/x/{}", NULL},
};
#define N (sizeof(table) / sizeof(table[0]))

static int find(const char *method, const char *path, char *arg, char *error, size_t errlen)
{
	char *e = NULL;
	int i = vw_routes_find(table, N, method, path, arg, 64, &e);
	json_t *j = e ? json_loads(e, 0, NULL) : NULL;
	snprintf(error, errlen, "%s", json_string_value(json_object_get(j, "error")) ?: "");
	if (i < 0)
		CU_ASSERT_PTR_NOT_NULL(j); /* a miss is always {"error": "..."} */
	json_decref(j);
	free(e);
	return i;
}

static void test_match(void)
{
	char arg[64], err[200];

	CU_ASSERT_EQUAL(find("GET", "/metrics", arg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(find("POST", "/api/feeds/cam/controls", arg, err, sizeof(err)), 1);
	CU_ASSERT_STRING_EQUAL(arg, "cam");
	CU_ASSERT_EQUAL(find("PUT", "/api/streams", arg, err, sizeof(err)), 2);
	/* "{...}" takes the rest, slashes too (stream names may have them) */
	CU_ASSERT_EQUAL(find("DELETE", "/api/streams/lab/cam1", arg, err, sizeof(err)), 3);
	CU_ASSERT_STRING_EQUAL(arg, "lab/cam1");
	CU_ASSERT_EQUAL(find("GET", "/api/streams/", arg, err, sizeof(err)), 3);
	CU_ASSERT_STRING_EQUAL(arg, "");
	/* one path, two routes by method */
	CU_ASSERT_EQUAL(find("DELETE", "/api/x/y", arg, err, sizeof(err)), 5);
	CU_ASSERT_STRING_EQUAL(arg, "y");
}

static void test_misses(void)
{
	char arg[64], err[200];

	CU_ASSERT_EQUAL(find("GET", "/api/nothing", arg, err, sizeof(err)), -404);
	CU_ASSERT_STRING_EQUAL(err, "no such endpoint: /api/nothing");
	CU_ASSERT_EQUAL(find("GET", "/api/streamsx", arg, err, sizeof(err)), -404);
	CU_ASSERT_EQUAL(find("GET", "/metrics/", arg, err, sizeof(err)), -404);
	/* "{}" is one segment: a slash in it is another path */
	CU_ASSERT_EQUAL(find("GET", "/api/feeds/a/b/controls", arg, err, sizeof(err)), -404);
	CU_ASSERT_EQUAL(find("GET", "/api/streams", arg, err, sizeof(err)), -405);
	CU_ASSERT_STRING_EQUAL(err, "/api/streams takes POST or PUT");
	CU_ASSERT_EQUAL(find("POST", "/api/streams/live", arg, err, sizeof(err)), -405);
	CU_ASSERT_STRING_EQUAL(err, "/api/streams/live takes GET or DELETE");
	CU_ASSERT_EQUAL(find("POST", "/api/x/y", arg, err, sizeof(err)), -405);
	CU_ASSERT_STRING_EQUAL(err, "/api/x/y takes GET or DELETE");
	/* a method is matched whole, not as a prefix of another */
	CU_ASSERT_EQUAL(find("GE", "/metrics", arg, err, sizeof(err)), -405);
	/* the client's bytes are quoted as valid UTF-8 */
	CU_ASSERT_EQUAL(find("GET", "/api/caf\xc3", arg, err, sizeof(err)), -404);
	CU_ASSERT_STRING_EQUAL(err, "no such endpoint: /api/caf?");
}

VW_TEST_SUITE("routes", NULL,
	      {"match", test_match},
	      {"misses", test_misses})
