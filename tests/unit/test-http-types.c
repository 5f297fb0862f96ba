/* test-http-types.c: unit tests for http_types.c: header name and value
 * checks against a byte-by-byte reference for every byte at every position,
 * method names in either case, header lookup by name, request targets and
 * paths (decoded only when they hold a '%'), and query parameters. */
#include "http_types.h"
#include "unit.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

static int ref_value_byte_ok(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7F);
}

static int ref_tchar(unsigned char c)
{
    return c && (isalnum(c) || strchr("!#$%&'*+-.^_`|~", c));
}

/* Every byte at every position of values 1 to 40 long, and words in which
 * a tab or a byte from 0x80 sits next to a bad byte. */
static void test_header_value_ok(void)
{
    char s[48];
    CHECK(fnh__http_header_value_ok(""));
    for (size_t len = 1; len <= 40; len++)
        for (size_t at = 0; at < len; at++)
            for (int c = 1; c < 256; c++) {
                memset(s, 'a', len);
                s[len] = '\0';
                s[at] = (char)c;
                if (fnh__http_header_value_ok(s) != ref_value_byte_ok((unsigned char)c)) {
                    printf("  len %zu at %zu byte 0x%02x\n", len, at, c);
                    CHECK(0);
                    return;
                }
            }
    CHECK(fnh__http_header_value_ok("text/plain;\tcharset=utf-8 \xc3\xa9\xff\x80"));
    CHECK(!fnh__http_header_value_ok("\xff\xff\xff\xff\xff\xff\x01\xff"));
    CHECK(!fnh__http_header_value_ok("\t\t\t\t\t\t\t\x7f"));
    CHECK(!fnh__http_header_value_ok("abcdefgh\t\x80\r"));
    CHECK(!fnh__http_header_value_ok("text/plain\r\nSet-Cookie: a=b"));
    CHECK(!fnh__http_header_value_ok("0123456789abcdef\n"));
}

static void test_header_name_ok(void)
{
    char s[4] = "x?y";
    CHECK(!fnh__http_header_name_ok(""));
    for (int c = 1; c < 256; c++) {
        s[1] = (char)c;
        CHECK(fnh__http_header_name_ok(s) == ref_tchar((unsigned char)c));
        CHECK(fnh__http_tchar[c] == ref_tchar((unsigned char)c));
    }
    CHECK(!fnh__http_tchar[0]);
    CHECK(fnh__http_header_name_ok("X-Custom_1.a~b|c"));
}

/* Only the name's own letters in either case match, at every position. */
static void test_method_bit_bytes(void)
{
    static const char *const names[] = {"GET",   "POST",    "PUT",  "DELETE", "HEAD",
                                        "PATCH", "OPTIONS", "TRACE"};
    char s[8];
    for (unsigned i = 0; i < 8; i++) {
        size_t len = strlen(names[i]);
        CHECK(fnh__method_bit(names[i], len) == 1u << i);
        CHECK_STR(fnh__method_name(1u << i), names[i]);
        for (size_t at = 0; at < len; at++)
            for (int c = 0; c < 256; c++) {
                memcpy(s, names[i], len);
                s[at] = (char)c;
                int same = c == names[i][at] || c == tolower((unsigned char)names[i][at]);
                CHECK(fnh__method_bit(s, len) == (same ? 1u << i : 0u));
            }
    }
    CHECK(fnh__method_bit("oPtIoNs", 7) == FNH__M_OPTIONS);
    CHECK(fnh__method_bit("PROPFIND", 8) == 0);
    CHECK(fnh__method_bit("", 0) == 0);
    CHECK(fnh__method_bit(NULL, 3) == 0);
}

static fnh__http_req *new_req(const char *target, const char *hbytes, size_t hlen, size_t n)
{
    fnh__http_target parts;
    fnh__http_req *r = NULL;
    if (fnh__http_target_split(target, 0, &parts) ||
        fnh__http_req_new("GET", target, &parts, hbytes, hlen, n, &r))
        return NULL;
    return r;
}

/* Names that differ only in the 0x20 bit but are no letters are different
 * names ('@' and '`', '[' and '{'). */
static void test_req_header(void)
{
    static const char hs[] = "Host\0h\0x-A\0one\0X-a\0two\0@b\0at\0`b\0tick\0[\0open\0";
    fnh__http_req *r = new_req("/", hs, sizeof hs - 1, 6);
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK_STR(fnh__http_req_header(r, "host"), "h");
    CHECK_STR(fnh__http_req_header(r, "HOST"), "h");
    CHECK_STR(fnh__http_req_header(r, "X-A"), "one");
    CHECK_STR(fnh__http_req_header(r, "x-a"), "one");
    CHECK_STR(fnh__http_req_header(r, "@B"), "at");
    CHECK_STR(fnh__http_req_header(r, "`B"), "tick");
    CHECK_STR(fnh__http_req_header(r, "["), "open");
    CHECK_STR(fnh__http_req_header(r, "{"), NULL);
    CHECK_STR(fnh__http_req_header(r, "Hos"), NULL);
    CHECK_STR(fnh__http_req_header(r, "Hosts"), NULL);
    CHECK_STR(fnh__http_req_header(r, "Expect"), NULL);
    CHECK_STR(fnh__http_req_header(r, ""), NULL);
    fnh__http_req_free(r);
    /* the headers sit after the decoded path's copy (as long as the raw
     * path: an invalid escape stays) */
    r = new_req("/%zz?q", hs, sizeof hs - 1, 6);
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK_STR(r->path, "/%zz");
    CHECK_STR(r->path_raw, "/%zz");
    CHECK_STR(r->headers[0].key, "Host");
    CHECK_STR(fnh__http_req_header(r, "["), "open");
    fnh__http_req_free(r);
}

static void check_target(const char *target, const char *path_raw, const char *path,
                         const char *query)
{
    fnh__http_req *r = new_req(target, "", 0, 0);
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK_STR(r->target, target);
    CHECK_STR(r->path_raw, path_raw);
    CHECK_STR(r->path, path);
    CHECK_STR(r->query, query);
    CHECK(r->method == FNH__M_GET);
    CHECK_STR(r->method_name, "GET");
    fnh__http_req_free(r);
}

static void test_targets_and_paths(void)
{
    check_target("/api/hello", "/api/hello", "/api/hello", "");
    check_target("/a+b?x=1+2&y", "/a+b", "/a+b", "x=1+2&y");
    check_target("/a%41%2fb%zz%4", "/a%41%2fb%zz%4", "/aA/b%zz%4", "");
    check_target("/%", "/%", "/%", "");
    check_target("/p#f?q", "/p", "/p", "");
    check_target("/p?q#f", "/p", "/p", "q");
    check_target("/p?", "/p", "/p", "");
    check_target("/p?#", "/p", "/p", "");
    check_target("http://host", "/", "/", "");
    check_target("http://host?q=%41", "/", "/", "q=%41");
    check_target("HTTPS://host/x%20y", "/x%20y", "/x y", "");
    check_target("*", "*", "*", "");
    fnh__http_target parts;
    CHECK(fnh__http_target_split("ftp://host/x", 0, &parts) == -EINVAL);
    CHECK(fnh__http_target_split("/p?ab#c", 0, &parts) == 0 && parts.path_len == 2 &&
          parts.query_len == 2 && strncmp(parts.query, "ab", 2) == 0);
    CHECK(fnh__http_target_split("/p", 0, &parts) == 0 && parts.query_len == 0 &&
          *parts.query == '\0');
    fnh__http_req *r = NULL;
    CHECK(fnh__http_target_split("/a%00b", 0, &parts) == 0);
    CHECK(fnh__http_req_new("GET", "/a%00b", &parts, "", 0, 0, &r) == -EILSEQ && r == NULL);
    CHECK(fnh__http_target_split("/a", 0, &parts) == 0);
    CHECK(fnh__http_req_new("BREW", "/a", &parts, "", 0, 0, &r) == 0 && r);
    if (r) {
        CHECK(r->method == 0);
        CHECK_STR(r->method_name, "BREW");
        fnh__http_req_free(r);
    }
}

static void test_query(void)
{
    fnh__http_req *r = new_req("/p?a=1&&b&c=%41+x&=v", "", 0, 0);
    CHECK(r != NULL);
    if (!r)
        return;
    fnh__http_req_parse_query(r);
    CHECK(r->nq == 4);
    if (r->nq == 4) {
        CHECK_STR(r->qparams[0].key, "a");
        CHECK_STR(r->qparams[0].value, "1");
        CHECK_STR(r->qparams[1].key, "b");
        CHECK_STR(r->qparams[1].value, "");
        CHECK_STR(r->qparams[2].value, "A x");
        CHECK_STR(r->qparams[3].key, "");
        CHECK_STR(r->qparams[3].value, "v");
    }
    fnh__http_req_free(r);
    r = new_req("/p?#a=1", "", 0, 0);
    CHECK(r != NULL);
    if (r) {
        fnh__http_req_parse_query(r);
        CHECK(r->qparsed && r->nq == 0 && r->qparams == NULL);
        fnh__http_req_free(r);
    }
}

int main(void)
{
    UNIT_RUN(test_header_value_ok);
    UNIT_RUN(test_header_name_ok);
    UNIT_RUN(test_method_bit_bytes);
    UNIT_RUN(test_req_header);
    UNIT_RUN(test_targets_and_paths);
    UNIT_RUN(test_query);
    UNIT_END();
}
