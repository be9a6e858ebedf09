/* Examples of the local server's cross-site checks (pure): which Host headers name this server
 * (DNS rebinding defence), which Origin headers may watch or change rules, and which [http]
 * origins lists are valid. The server applying them to real requests is tested in
 * tests/system/test_security.c. */
#include "vw_http.h"
#include "vw_test.h"

#include <errno.h>
#include <string.h>

#define LISTED "https://cam.example.com, http://proxy.example:8080"

static void test_host(void)
{
	/* no Host: not a browser */
	CU_ASSERT_TRUE(vw_http_host_ok(NULL, "box", NULL));
	CU_ASSERT_TRUE(vw_http_host_ok("", "box", NULL));
	/* addresses, localhost, the machine's own name (and .local), with or without a port */
	CU_ASSERT_TRUE(vw_http_host_ok("127.0.0.1:8888", "box", NULL));
	CU_ASSERT_TRUE(vw_http_host_ok("192.168.1.20", "box", NULL));
	CU_ASSERT_TRUE(vw_http_host_ok("[::1]:8888", "box", NULL));
	CU_ASSERT_TRUE(vw_http_host_ok("localhost:9999", "box", NULL));
	CU_ASSERT_TRUE(vw_http_host_ok("box", "box", NULL));
	CU_ASSERT_TRUE(vw_http_host_ok("BOX.local:8888", "box", NULL));
	/* a name that DNS rebinding points here is none of those */
	CU_ASSERT_FALSE(vw_http_host_ok("evil.example", "box", NULL));
	CU_ASSERT_FALSE(vw_http_host_ok("evil.example:8888", "box", NULL));
	CU_ASSERT_FALSE(vw_http_host_ok("box.evil.example", "box", NULL));
	CU_ASSERT_FALSE(vw_http_host_ok("evil.example", "", NULL));
	/* unless the operator listed it (any port, any scheme of the entry) */
	CU_ASSERT_TRUE(vw_http_host_ok("cam.example.com", "box", LISTED));
	CU_ASSERT_TRUE(vw_http_host_ok("proxy.example:443", "box", LISTED));
	CU_ASSERT_FALSE(vw_http_host_ok("example.com", "box", LISTED));
}

static void test_origin(void)
{
	/* no Origin: curl, scripts, relays */
	CU_ASSERT_TRUE(vw_http_origin_ok(NULL, "127.0.0.1:8888", NULL));
	/* the page came from where the request goes: the same host and port (default by scheme) */
	CU_ASSERT_TRUE(vw_http_origin_ok("http://127.0.0.1:8888", "127.0.0.1:8888", NULL));
	CU_ASSERT_TRUE(vw_http_origin_ok("http://localhost:9999/", "localhost:9999", NULL));
	CU_ASSERT_TRUE(vw_http_origin_ok("http://box", "box", NULL));
	CU_ASSERT_TRUE(vw_http_origin_ok("http://box", "box:80", NULL));
	CU_ASSERT_TRUE(vw_http_origin_ok("https://box", "box", NULL));
	CU_ASSERT_FALSE(vw_http_origin_ok("http://box", "box:8888", NULL));
	CU_ASSERT_FALSE(vw_http_origin_ok("http://127.0.0.1:8889", "127.0.0.1:8888", NULL)); /* another port */
	CU_ASSERT_FALSE(vw_http_origin_ok("http://evil.example", "127.0.0.1:8888", NULL));
	CU_ASSERT_FALSE(vw_http_origin_ok("null", "127.0.0.1:8888", NULL)); /* a sandboxed or file: page */
	CU_ASSERT_FALSE(vw_http_origin_ok("http://127.0.0.1:8888/page", "127.0.0.1:8888", NULL));
	CU_ASSERT_FALSE(vw_http_origin_ok("ftp://127.0.0.1:8888", "127.0.0.1:8888", NULL));
	/* listed origins: scheme, host and port all count */
	CU_ASSERT_TRUE(vw_http_origin_ok("https://cam.example.com", "127.0.0.1:8888", LISTED));
	CU_ASSERT_TRUE(vw_http_origin_ok("https://cam.example.com:443", "127.0.0.1:8888", LISTED));
	CU_ASSERT_TRUE(vw_http_origin_ok("http://proxy.example:8080", "127.0.0.1:8888", LISTED));
	CU_ASSERT_FALSE(vw_http_origin_ok("http://cam.example.com", "127.0.0.1:8888", LISTED));
	CU_ASSERT_FALSE(vw_http_origin_ok("http://proxy.example", "127.0.0.1:8888", LISTED));
}

static void test_origins_list(void)
{
	char err[300] = "";

	CU_ASSERT_EQUAL(vw_http_origins_check("", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vw_http_origins_check(LISTED, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vw_http_origins_check("http://a.example/ https://[::1]:8443\thttp://b", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vw_http_origins_check("https://a.example, cam.example.com", err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad origin 'cam.example.com'"));
	CU_ASSERT_EQUAL(vw_http_origins_check("ftp://a.example", err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "'ftp://a.example'"));
	CU_ASSERT_EQUAL(vw_http_origins_check("https://a.example/path", err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(vw_http_origins_check("null", err, sizeof(err)), -EINVAL);
}

/* Which websocket paths the server takes: /live/STREAM, /ws/TOPIC (names as everywhere else,
 * '/' between parts, the query cut off) and /ws/api. */
static void test_ws_target(void)
{
	char name[VW_NAME_MAX];

	CU_ASSERT_EQUAL(vw_http_ws_target("/live/cam", name, sizeof(name)), VW_HTTP_WS_LIVE);
	CU_ASSERT_STRING_EQUAL(name, "cam");
	CU_ASSERT_EQUAL(vw_http_ws_target("/ws/data?token=x", name, sizeof(name)), VW_HTTP_WS_TOPIC);
	CU_ASSERT_STRING_EQUAL(name, "data");
	CU_ASSERT_EQUAL(vw_http_ws_target("/ws/stream/front/large", name, sizeof(name)), VW_HTTP_WS_TOPIC);
	CU_ASSERT_STRING_EQUAL(name, "stream/front/large");
	CU_ASSERT_EQUAL(vw_http_ws_target("/ws/api", name, sizeof(name)), VW_HTTP_WS_API);
	CU_ASSERT_EQUAL(vw_http_ws_target("/ws/api?token=t", name, sizeof(name)), VW_HTTP_WS_API);
	CU_ASSERT_EQUAL(vw_http_ws_target("/ws/api/x", name, sizeof(name)), VW_HTTP_WS_TOPIC); /* a topic named so */
	CU_ASSERT_EQUAL(vw_http_ws_target("/ws", name, sizeof(name)), 0);
	CU_ASSERT_EQUAL(vw_http_ws_target("/api/status", name, sizeof(name)), 0);
	CU_ASSERT_EQUAL(vw_http_ws_target("/ws/", name, sizeof(name)), -EINVAL);
	CU_ASSERT_EQUAL(vw_http_ws_target("/ws/../etc", name, sizeof(name)), -EINVAL);
	CU_ASSERT_EQUAL(vw_http_ws_target("/ws/a//b", name, sizeof(name)), -EINVAL);
	CU_ASSERT_EQUAL(vw_http_ws_target("/ws/a b", name, sizeof(name)), -EINVAL);
	char longer[VW_NAME_MAX + 16];
	memset(longer, 'x', sizeof(longer));
	memcpy(longer, "/ws/", 4);
	longer[sizeof(longer) - 1] = 0;
	CU_ASSERT_EQUAL(vw_http_ws_target(longer, name, sizeof(name)), -EINVAL); /* never cut to fit */
}

VW_TEST_SUITE("http_checks", NULL,
	      {"host", test_host},
	      {"origin", test_origin},
	      {"origins_list", test_origins_list},
	      {"ws_target", test_ws_target})
