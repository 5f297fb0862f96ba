/* cli_invoke.c: `fnhost invoke`: one blocking HTTP/1.1 request to the
 * host's admin API (Connection: close, the answer read to its end), the
 * master key from the app's secrets file when there is one, the result
 * printed as JSON and turned into an exit status. */
#include "cli_invoke.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "secret_file.h"
#include "util.h"

#define MAX_ANSWER (256u << 20)

static void usage(void)
{
    fputs("usage: fnhost invoke NAME [--data JSON|TEXT|@FILE] [--port N] [--host ADDR] "
          "[--script-root DIR]\n",
          stderr);
}

/* The master key in root's secrets (malloc'd), or NULL when there is none. */
static char *master_key(const char *root)
{
    char *path = fnh__asprintf("%s/.fnhost/secrets/host.json", root);
    cJSON *doc = NULL;
    char *err = NULL;
    char *key = NULL;
    if (path && fnh__secret_read(path, &doc, &err) == 0) {
        const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "masterKey"), "value");
        if (cJSON_IsString(v))
            key = fnh__strdup(v->valuestring);
    }
    if (err)
        fprintf(stderr, "fnhost invoke: warning: %s\n", err);
    cJSON_Delete(doc);
    free(err);
    free(path);
    return key;
}

/* The request body {"input": ...} for --data (NULL: {}). malloc'd. */
static char *request_body(const char *data)
{
    char *owned = NULL;
    size_t len = 0;
    if (data && data[0] == '@') {
        int rc = fnh__read_file(data + 1, &owned, &len);
        if (rc) {
            fprintf(stderr, "fnhost invoke: --data: cannot read '%s': %s\n", data + 1,
                    strerror(-rc));
            return NULL;
        }
        data = owned;
    }
    cJSON *o = cJSON_CreateObject();
    if (data) {
        cJSON *v = cJSON_Parse(data);
        cJSON_AddItemToObject(o, "input", v ? v : cJSON_CreateString(data));
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    free(owned);
    return s;
}

static int connect_to(const char *host, const char *port, char *why, size_t whylen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc) {
        snprintf(why, whylen, "%s", gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen)) {
            snprintf(why, whylen, "%s", strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Sends the request and reads the whole answer into out. 0 or -1. */
static int exchange(int fd, const char *head, const char *body, fnh__buf *out)
{
    if (send_all(fd, head, strlen(head)) || send_all(fd, body, strlen(body)))
        return -1;
    char chunk[65536];
    for (;;) {
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        if (out->len + (size_t)n > MAX_ANSWER || fnh__buf_append(out, chunk, (size_t)n))
            return -1;
    }
}

/* Percent-encodes what is not unreserved in a path segment. malloc'd. */
static char *encode_segment(const char *s)
{
    fnh__buf b = {0};
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            fnh__buf_append(&b, p, 1);
        else
            fnh__buf_printf(&b, "%%%02X", *p);
    }
    fnh__buf_append(&b, "", 0);
    return fnh__buf_take(&b);
}

/* Prints the answer and gives the exit status. */
static int report(const char *name, const char *root, int status, const char *body)
{
    if (status == 200) {
        cJSON *doc = cJSON_Parse(body);
        char *pretty = doc ? cJSON_Print(doc) : NULL;
        printf("%s\n", pretty ? pretty : body);
        free(pretty);
        const cJSON *st = cJSON_GetObjectItem(doc, "status");
        int ok = cJSON_IsString(st) && strcmp(st->valuestring, "succeeded") == 0;
        if (!ok) {
            const cJSON *err = cJSON_GetObjectItem(doc, "error");
            fprintf(stderr, "fnhost invoke: function '%s' failed%s%s\n", name,
                    cJSON_IsString(err) ? ": " : "", cJSON_IsString(err) ? err->valuestring : "");
        }
        cJSON_Delete(doc);
        return ok ? 0 : 1;
    }
    if (status == 202) {
        printf("{\"status\":\"started\"}\n");
        fprintf(stderr, "fnhost invoke: the trigger of '%s' started the run in the background; "
                        "its result is in the host's log\n",
                name);
        return 0;
    }
    if (status == 401)
        fprintf(stderr, "fnhost invoke: the host runs with --enable-auth and did not accept the "
                        "master key from %s/.fnhost/secrets/host.json; pass --script-root with "
                        "the app's folder\n",
                root);
    else if (status == 404)
        fprintf(stderr, "fnhost invoke: the host has no function named '%s'; see GET "
                        "/admin/functions for the names\n",
                name);
    else
        fprintf(stderr, "fnhost invoke: the host answered HTTP %d: %s\n", status, body);
    return 3;
}

/* The app's Host.LocalHttpPort (local.settings.json in root), as `fnhost
 * start` serves it, into buf; NULL when unset or unreadable. */
static const char *app_port(const char *root, char *buf, size_t size)
{
    char *path = fnh__asprintf("%s/local.settings.json", root), *text = NULL;
    size_t len = 0;
    int rc = path ? fnh__read_file(path, &text, &len) : -ENOMEM;
    free(path);
    cJSON *doc = rc == 0 ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    const cJSON *p = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "Host"), "LocalHttpPort");
    const char *out = NULL;
    if (cJSON_IsNumber(p) && p->valuedouble >= 1 && p->valuedouble <= 65535)
        out = (snprintf(buf, size, "%d", (int)p->valuedouble), buf);
    else if (cJSON_IsString(p) && *p->valuestring)
        out = (snprintf(buf, size, "%s", p->valuestring), buf);
    cJSON_Delete(doc);
    return out;
}

int fnh__cli_invoke(int argc, char **argv)
{
    const char *name = NULL, *data = NULL, *host = "127.0.0.1", *port = NULL, *root = ".";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (strcmp(a, "--data") == 0 && has_val)
            data = argv[++i];
        else if ((strcmp(a, "--port") == 0 || strcmp(a, "-p") == 0) && has_val)
            port = argv[++i];
        else if (strcmp(a, "--host") == 0 && has_val)
            host = argv[++i];
        else if (strcmp(a, "--script-root") == 0 && has_val)
            root = argv[++i];
        else if (a[0] != '-' && !name)
            name = a;
        else {
            fprintf(stderr, "fnhost invoke: unknown or incomplete option '%s'\n", a);
            usage();
            return 2;
        }
    }
    char app_port_buf[16];
    if (!port) /* the port the app's `fnhost start` serves, else Core Tools' */
        port = app_port(root, app_port_buf, sizeof app_port_buf);
    if (!port)
        port = "7071";
    char *end;
    long pn = strtol(port, &end, 10);
    if (!name || *end || pn <= 0 || pn > 65535) {
        if (name)
            fprintf(stderr, "fnhost invoke: --port: '%s' is not a port number\n", port);
        usage();
        return 2;
    }
    char *body = request_body(data);
    if (!body)
        return 2;
    char *key = master_key(root);
    char *seg = encode_segment(name);
    char *head = seg ? fnh__asprintf("POST /admin/functions/%s?wait=true HTTP/1.1\r\n"
                                     "Host: %s:%s\r\nContent-Type: application/json\r\n"
                                     "Content-Length: %zu\r\nConnection: close\r\n%s%s%s\r\n",
                                     seg, host, port, strlen(body), key ? "x-functions-key: " : "",
                                     key ? key : "", key ? "\r\n" : "")
                     : NULL;
    char why[256] = "out of memory";
    int fd = head ? connect_to(host, port, why, sizeof why) : -1;
    fnh__buf answer = {0};
    int rc = 3;
    if (fd < 0) {
        fprintf(stderr, "fnhost invoke: cannot reach the host at http://%s:%s (%s); is `fnhost "
                        "start` running? Use --port N for another port\n",
                host, port, why);
    } else if (exchange(fd, head, body, &answer) || !answer.len) {
        fprintf(stderr, "fnhost invoke: the host at http://%s:%s closed the connection without "
                        "a full answer\n",
                host, port);
    } else {
        fnh__buf_append(&answer, "", 1);
        int status = 0;
        const char *sep = strstr(answer.data, "\r\n\r\n");
        if (sscanf(answer.data, "HTTP/1.%*d %d", &status) != 1 || !sep)
            fprintf(stderr, "fnhost invoke: the host at http://%s:%s sent something that is not "
                            "HTTP\n",
                    host, port);
        else
            rc = report(name, root, status, sep + 4);
    }
    if (fd >= 0)
        close(fd);
    fnh__buf_free(&answer);
    free(head);
    free(seg);
    if (key)
        memset(key, 0, strlen(key));
    free(key);
    free(body);
    return rc;
}
