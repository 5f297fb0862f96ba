/* test-keys.c: the secrets store and key checks of host/src/keys: key
 * values, constant-time equality, authorization levels, files created once
 * and agreed on by two stores, changes written back, the master key's
 * protection, a broken file refused, and the log tee that copies one
 * invocation's lines. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "secret_file.h"
#include "secrets.h"
#include "unit.h"
#include "util.h"

static char g_root[64];

static void make_root(void)
{
    strcpy(g_root, "/tmp/fnhost-keys-XXXXXX");
    if (!mkdtemp(g_root))
        g_root[0] = '\0';
}

static void remove_root(void)
{
    char *cmd = fnh__asprintf("rm -rf '%s'", g_root);
    if (cmd && system(cmd) != 0)
        printf("warning: could not remove %s\n", g_root);
    free(cmd);
}

static void test_generate(void)
{
    char a[57], b[57];
    CHECK(fnh__secret_generate(a) == 0);
    CHECK(fnh__secret_generate(b) == 0);
    CHECK(strlen(a) == 56 && strlen(b) == 56);
    CHECK(strcmp(a, b) != 0);
    CHECK(!strchr(a, '+') && !strchr(b, '+'));
    CHECK(strcmp(a + 54, "==") == 0); /* 40 bytes: one byte in the last group */
    char hex[33];
    CHECK(fnh__secret_hex(hex) == 0 && strlen(hex) == 32 && strspn(hex, "0123456789abcdef") == 32);
}

static void test_equal_and_levels(void)
{
    CHECK(fnh__auth_equal("abc", "abc"));
    CHECK(!fnh__auth_equal("abc", "abd"));
    CHECK(!fnh__auth_equal("ab", "abc"));
    CHECK(!fnh__auth_equal("abcd", "abc"));
    CHECK(!fnh__auth_equal("", "abc"));
    CHECK(fnh__auth_parse_level("Anonymous") == FNH__AUTH_ANONYMOUS);
    CHECK(fnh__auth_parse_level("ADMIN") == FNH__AUTH_ADMIN);
    CHECK(fnh__auth_parse_level(NULL) == FNH__AUTH_FUNCTION);
    CHECK(fnh__auth_parse_level("root") == -EINVAL);
    CHECK(fnh__auth_passes(FNH__AUTH_ANONYMOUS, FNH__AUTH_ANONYMOUS));
    CHECK(fnh__auth_passes(FNH__AUTH_ADMIN, FNH__AUTH_FUNCTION));
    CHECK(fnh__auth_passes(FNH__AUTH_FUNCTION, FNH__AUTH_FUNCTION));
    CHECK(!fnh__auth_passes(FNH__AUTH_SYSTEM, FNH__AUTH_FUNCTION));
    CHECK(!fnh__auth_passes(FNH__AUTH_FUNCTION, FNH__AUTH_ADMIN));
    CHECK(!fnh__auth_passes(FNH__AUTH_ANONYMOUS, FNH__AUTH_USER));
    CHECK(fnh__secrets_key_ok("default", NULL));
    CHECK(fnh__secrets_key_ok("a.b-c_d", "xyz/+=9"));
    CHECK(!fnh__secrets_key_ok("", NULL));
    CHECK(!fnh__secrets_key_ok("a b", NULL));
    CHECK(!fnh__secrets_key_ok("k", "has space"));
    CHECK(!fnh__secrets_key_ok("k", ""));
}

static void test_files_created_once(void)
{
    make_root();
    fnh__secrets *a = fnh__secrets_new(g_root, "localhost:1");
    fnh__secrets *b = fnh__secrets_new(g_root, "localhost:2");
    const char *ma, *mb;
    CHECK(fnh__secrets_master(a, &ma) == 0);
    CHECK(fnh__secrets_master(b, &mb) == 0); /* reads what a made */
    CHECK_STR(ma, mb);
    struct stat st;
    char *dir = fnh__asprintf("%s/.fnhost/secrets", g_root);
    char *file = fnh__asprintf("%s/host.json", dir);
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK(stat(file, &st) == 0 && (st.st_mode & 0777) == 0600);
    /* a change is written back and seen by a store that loads later */
    const char *stored;
    int created;
    CHECK(fnh__secrets_set(a, FNH__KEYS_FUNCTION, "Hello", "k1", "value-1", &stored,
                           &created) == 0);
    CHECK(created == 1);
    CHECK_STR(stored, "value-1");
    fnh__secrets *c = fnh__secrets_new(g_root, NULL);
    const char *v;
    CHECK(fnh__secrets_get(c, FNH__KEYS_FUNCTION, "HELLO", "K1", &v) == 0);
    CHECK_STR(v, "value-1");
    const fnh__key *keys;
    size_t n;
    CHECK(fnh__secrets_list(c, FNH__KEYS_FUNCTION, "hello", &keys, &n) == 0 && n == 2);
    CHECK(fnh__secrets_list(c, FNH__KEYS_FUNCTION, "../x", &keys, &n) == -EINVAL);
    /* the master key is there by name, never deleted */
    CHECK(fnh__secrets_get(c, FNH__KEYS_SYSTEM, NULL, "_master", &v) == 0);
    CHECK_STR(v, ma);
    CHECK(fnh__secrets_delete(c, FNH__KEYS_HOST, NULL, "_master") == -EPERM);
    CHECK(fnh__secrets_delete(c, FNH__KEYS_HOST, NULL, "nope") == -ENOENT);
    CHECK(fnh__secrets_delete(c, FNH__KEYS_HOST, NULL, "default") == 0);
    CHECK(fnh__secrets_list(c, FNH__KEYS_HOST, NULL, &keys, &n) == 0 && n == 0);
    /* a generated value replaces the old one */
    CHECK(fnh__secrets_set(c, FNH__KEYS_HOST, NULL, "_master", NULL, &stored, &created) == 0);
    CHECK(created == 0 && strlen(stored) == 56 && strcmp(stored, ma) != 0);
    fnh__secrets_free(a);
    fnh__secrets_free(b);
    fnh__secrets_free(c);
    free(dir);
    free(file);
    remove_root();
}

static void test_broken_file(void)
{
    make_root();
    char *dir = fnh__asprintf("%s/.fnhost/secrets", g_root);
    CHECK(fnh__secret_mkdir(dir) == 0);
    char *file = fnh__asprintf("%s/host.json", dir);
    FILE *f = fopen(file, "w");
    if (f) {
        fputs("{\"masterKey\":{\"name\":\"master\",\"value\":\"m\"},\"functionKeys\":[{\"x\":1}]}",
              f);
        fclose(f);
    }
    fnh__log_init(0, 0);
    fnh__log_set_level("Host.Secrets", FNH__LOG_NONE);
    fnh__secrets *s = fnh__secrets_new(g_root, NULL);
    const char *m;
    CHECK(fnh__secrets_master(s, &m) == -EINVAL);
    CHECK(fnh__secrets_error(s) && strstr(fnh__secrets_error(s), "host.json: functionKeys[0]: "
                                                                  "must be an object"));
    fnh__secrets_free(s);
    fnh__log_shutdown();
    free(file);
    free(dir);
    remove_root();
}

static void test_log_tee(void)
{
    fnh__log_init(0, 0);
    fnh__log_set_level("Quiet", FNH__LOG_NONE);
    fnh__log_tee t = {0};
    fnh__log_tee *prev = fnh__log_tee_set(&t);
    CHECK(prev == NULL);
    fnh__log("Test.Tee", FNH_LOG_WARN, "first \"%d\"", 1);
    fnh__log("Quiet", FNH_LOG_ERROR, "filtered out");
    fnh__log_tee_set(prev);
    fnh__log("Test.Tee", FNH_LOG_INFO, "not copied");
    fnh__buf out = {0};
    fnh__buf_puts(&out, "[");
    fnh__log_tee_take(&t, &out);
    fnh__buf_puts(&out, "]");
    cJSON *a = cJSON_Parse(out.data);
    CHECK(cJSON_GetArraySize(a) == 1);
    cJSON *e = cJSON_GetArrayItem(a, 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e, "message")), "first \"1\"");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e, "level")), "Warning");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e, "category")), "Test.Tee");
    CHECK(t.lines.len == 0); /* taken */
    cJSON_Delete(a);
    fnh__buf_free(&out);
    fnh__log_tee_clear(&t);
    fnh__log_shutdown();
}

int main(void)
{
    UNIT_RUN(test_generate);
    UNIT_RUN(test_equal_and_levels);
    UNIT_RUN(test_files_created_once);
    UNIT_RUN(test_broken_file);
    UNIT_RUN(test_log_tee);
    UNIT_END();
}
