/* http_router.c: ASP.NET Core route templates as Azure Functions uses them:
 * the template parser (parameters, optional/default/catch-all, complex
 * segments, inline constraints), the per-route matcher, specificity
 * precedence, the segment trie that keeps match cost independent of the
 * number of routes (and, before it, a table of the routes made only of
 * literals, by their whole path), and the overlap report for ambiguous
 * routes. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "http_router.h"

#include <errno.h>
#include <limits.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------ */
/* Data                                                                     */
/* ------------------------------------------------------------------------ */

enum ckind {
    C_INT, C_LONG, C_BOOL, C_DATETIME, C_DECIMAL, C_DOUBLE, C_FLOAT, C_GUID, C_ALPHA,
    C_MIN, C_MAX, C_RANGE, C_LENGTH, C_MINLENGTH, C_MAXLENGTH, C_REGEX, C_REQUIRED
};

/* nargs: 0 none, 1 one integer, 2 two integers, 3 one or two integers,
 * 4 the whole text (regex). */
static const struct cons_kind {
    const char *name;
    enum ckind kind;
    int nargs;
} cons_table[] = {
    {"int", C_INT, 0},           {"long", C_LONG, 0},           {"bool", C_BOOL, 0},
    {"datetime", C_DATETIME, 0}, {"decimal", C_DECIMAL, 0},     {"double", C_DOUBLE, 0},
    {"float", C_FLOAT, 0},       {"guid", C_GUID, 0},           {"alpha", C_ALPHA, 0},
    {"min", C_MIN, 1},           {"max", C_MAX, 1},             {"range", C_RANGE, 2},
    {"length", C_LENGTH, 3},     {"minlength", C_MINLENGTH, 1}, {"maxlength", C_MAXLENGTH, 1},
    {"regex", C_REGEX, 4},       {"required", C_REQUIRED, 0},
};
#define NCONS_KINDS (sizeof cons_table / sizeof cons_table[0])
#define CONS_NAME_LIST                                                                    \
    "int, long, bool, datetime, decimal, double, float, guid, alpha, min, max, range, " \
    "length, minlength, maxlength, regex, required"

/* Regex constraints run on the event loop, on values a client chooses: one
 * match may take at most REGEX_MATCH_LIMIT steps of PCRE2 (about 2 ms
 * interpreted, far less with the JIT) and REGEX_DEPTH_LIMIT nested
 * backtracking frames in at most REGEX_HEAP_KIB of memory. The JIT runs on a
 * 32 KiB stack on the machine stack; a match too deep for it is retried by
 * the interpreter. A match that gives up answers -ERANGE. */
#define REGEX_MATCH_LIMIT 100000
#define REGEX_DEPTH_LIMIT 10000
#define REGEX_HEAP_KIB 4096

struct cons {
    enum ckind kind;
    long long a, b;
    pcre2_code *re;
    pcre2_match_context *mc; /* the limits above */
};

struct param {
    char *name;
    char *def;           /* default value or NULL */
    bool optional;       /* {x?} */
    bool catchall;       /* {*x} or {**x} */
    bool def_ok;         /* the default satisfies the constraints */
    bool has_regex;
    size_t ncons;
    struct cons *cons;
};

struct part {
    char *lit;   /* decoded literal text, NULL for a parameter */
    size_t litlen;
    size_t param; /* index into route params when lit == NULL */
};

enum segkind { SEG_LIT, SEG_PARAM, SEG_COMPLEX, SEG_CATCHALL };

struct segment {
    struct part *parts;
    size_t nparts;
    enum segkind kind;
    int digit;        /* precedence digit, lower = more specific */
    bool opt_tail;    /* complex segment ending in ".{x?}" */
    bool absentable;  /* simple optional/default/catch-all parameter */
};

struct fnh__route {
    char *tmpl;
    struct segment *segs;
    size_t nseg;
    struct param *params;
    size_t nparams;
    size_t min_segs;  /* fewest request segments that can match */
    bool catchall;    /* last segment is a catch-all */
};

/* A captured value: [off, off+len) in the decoded request buffer. */
enum vstate { V_ABSENT, V_PRESENT };
struct span {
    size_t off, len;
    enum vstate st;
};

/* A request path split on '/' and decoded segment by segment; the segments
 * are stored joined with '/' (in the path itself when it has nothing to
 * decode) so a catch-all value is one span. */
struct req {
    const char *dec;
    size_t declen;
    size_t nseg;
    size_t *off, *len;
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static bool eq_ci(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn)
        return false;
    for (size_t i = 0; i < an; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hexval(int c)
{
    return is_digit(c) ? c - '0' : lower(c) - 'a' + 10;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

/* Room for one more element after the n in arr (capacity *cap, the first
 * allocation holding first elements of size bytes each): the array, moved
 * or not, or NULL when out of memory (arr is then unchanged). */
static void *grow(void *arr, size_t n, size_t *cap, size_t first, size_t size)
{
    if (n < *cap)
        return arr;
    size_t nc = *cap ? *cap * 2 : first;
    void *q = realloc(arr, nc * size);
    if (q)
        *cap = nc;
    return q;
}

/* Sets *err to a formatted sentence; returns -EINVAL (or -ENOMEM). */
static int fail(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        if (err)
            *err = NULL;
        return -ENOMEM;
    }
    if (err)
        *err = s;
    else
        free(s);
    return -EINVAL;
}

/* Index of the last case-insensitive occurrence of lit in s[0..n), or -1. */
static ptrdiff_t last_index_ci(const char *s, size_t n, const char *lit, size_t ln)
{
    if (ln > n)
        return -1;
    for (size_t i = n - ln + 1; i-- > 0;)
        if (eq_ci(s + i, ln, lit, ln))
            return (ptrdiff_t)i;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Constraint checks (invariant culture)                                    */
/* ------------------------------------------------------------------------ */

/* [+-]digits within int64 (NumberStyles.Integer; cons_check strips the
 * white space it allows around the value). */
static bool parse_i64(const char *s, size_t n, long long *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == n)
        return false;
    unsigned long long v = 0, lim = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
    for (; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (lim - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (out)
        *out = neg ? (v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v)
                   : (long long)v;
    return true;
}

/* Digits with optional ',' group separators after the first digit. Returns
 * the number of digits consumed (0 if none) and advances *i. Counts
 * significant integer digits into *sig when non-NULL. */
static size_t scan_digits(const char *s, size_t n, size_t *i, bool thousands, size_t *sig)
{
    size_t nd = 0;
    while (*i < n) {
        char c = s[*i];
        if (is_digit((unsigned char)c)) {
            if (sig && (*sig > 0 || c != '0'))
                (*sig)++;
            nd++;
        } else if (c == ',' && thousands && nd > 0) {
            /* group separator */
        } else {
            break;
        }
        (*i)++;
    }
    return nd;
}

/* Skips the digits at s[*i]; how many there were. */
static size_t skip_digits(const char *s, size_t n, size_t *i)
{
    size_t from = *i;
    while (*i < n && is_digit((unsigned char)s[*i]))
        (*i)++;
    return *i - from;
}

/* decimal.TryParse(NumberStyles.Number): sign (leading or trailing),
 * thousands separators, decimal point, no exponent, |v| < 7.9e28. */
static bool chk_decimal(const char *s, size_t n)
{
    size_t i = 0, sig = 0;
    bool lead = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        i++;
        lead = true;
    }
    size_t start = i;
    size_t nd = scan_digits(s, n, &i, true, &sig);
    size_t intend = i;
    if (i < n && s[i] == '.') {
        i++;
        nd += skip_digits(s, n, &i);
    }
    if (nd == 0)
        return false;
    if (!lead && i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    if (i != n)
        return false;
    if (sig > 29)
        return false;
    if (sig == 29) {
        /* compare against 79228162514264337593543950335 */
        static const char maxd[] = "79228162514264337593543950335";
        char digs[30];
        size_t k = 0;
        for (size_t j = start; j < intend; j++)
            if (is_digit((unsigned char)s[j]) && (k > 0 || s[j] != '0'))
                digs[k++] = s[j];
        digs[k] = 0;
        if (strcmp(digs, maxd) > 0)
            return false;
    }
    return true;
}

/* double.TryParse(NumberStyles.Float | AllowThousands): sign, thousands,
 * point, exponent; "Infinity"/"NaN" symbols; overflow gives infinity. */
static bool chk_double(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    if (eq_ci(s + i, n - i, "infinity", 8) || eq_ci(s + i, n - i, "nan", 3))
        return true;
    size_t nd = scan_digits(s, n, &i, true, NULL);
    if (i < n && s[i] == '.') {
        i++;
        nd += skip_digits(s, n, &i);
    }
    if (nd == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (skip_digits(s, n, &i) == 0)
            return false;
    }
    return i == n;
}

static bool hex_run(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_hex((unsigned char)s[i]))
            return false;
    return true;
}

/* Guid.TryParse formats N (32 hex), D (8-4-4-4-12), B {D} and P (D). */
static bool chk_guid(const char *s, size_t n)
{
    if (n == 32)
        return hex_run(s, 32);
    if (n == 38 && ((s[0] == '{' && s[37] == '}') || (s[0] == '(' && s[37] == ')'))) {
        s++;
        n = 36;
    }
    if (n != 36)
        return false;
    return hex_run(s, 8) && s[8] == '-' && hex_run(s + 9, 4) && s[13] == '-' &&
           hex_run(s + 14, 4) && s[18] == '-' && hex_run(s + 19, 4) && s[23] == '-' &&
           hex_run(s + 24, 12);
}

static size_t scan_num(const char *s, size_t n, size_t *i, int *v, size_t maxd)
{
    size_t k = 0;
    *v = 0;
    while (*i < n && k < maxd && is_digit((unsigned char)s[*i])) {
        *v = *v * 10 + (s[*i] - '0');
        (*i)++;
        k++;
    }
    return k;
}

static bool valid_date(int y, int m, int d)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1)
        return false;
    int md = mdays[m - 1];
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        md = 29;
    return d <= md;
}

/* yyyy-M-d, yyyy/M/d, M/d/yyyy (also with '-' or '.'), separators equal. */
static bool parse_date(const char *s, size_t n, size_t *i)
{
    size_t p = *i;
    int a, b, c;
    size_t la = scan_num(s, n, &p, &a, 4);
    if (la == 0 || p >= n || (s[p] != '-' && s[p] != '/' && s[p] != '.'))
        return false;
    char sep = s[p++];
    size_t lb = scan_num(s, n, &p, &b, 2);
    if (lb == 0 || p >= n || s[p] != sep)
        return false;
    p++;
    size_t lc = scan_num(s, n, &p, &c, 4);
    if (lc == 0 || (p < n && is_digit((unsigned char)s[p])))
        return false;
    bool ok;
    if (la == 4 && lc <= 2)
        ok = valid_date(a, b, c);
    else if (la <= 2 && lc == 4)
        ok = valid_date(c, a, b);
    else
        ok = false;
    if (ok)
        *i = p;
    return ok;
}

/* H:mm[:ss[.fffffff]][ ][AM|PM][Z|+hh[:mm]] */
static bool parse_time(const char *s, size_t n, size_t *i)
{
    size_t p = *i;
    int h, m, sec = 0;
    if (scan_num(s, n, &p, &h, 2) == 0 || p >= n || s[p] != ':')
        return false;
    p++;
    if (scan_num(s, n, &p, &m, 2) != 2 || m > 59)
        return false;
    if (p < n && s[p] == ':') {
        p++;
        if (scan_num(s, n, &p, &sec, 2) != 2 || sec > 59)
            return false;
        if (p < n && s[p] == '.') {
            p++;
            size_t nf = skip_digits(s, n, &p);
            if (nf == 0 || nf > 7)
                return false;
        }
    }
    size_t q = p;
    if (q < n && s[q] == ' ')
        q++;
    if (q + 2 <= n && (eq_ci(s + q, 2, "am", 2) || eq_ci(s + q, 2, "pm", 2))) {
        if (h > 12)
            return false;
        p = q + 2;
    } else if (h > 23) {
        return false;
    }
    if (p < n && (s[p] == 'Z' || s[p] == 'z')) {
        p++;
    } else if (p < n && (s[p] == '+' || s[p] == '-')) {
        p++;
        int oh, om;
        if (scan_num(s, n, &p, &oh, 2) == 0 || oh > 14)
            return false;
        if (p < n && s[p] == ':') {
            p++;
            if (scan_num(s, n, &p, &om, 2) != 2 || om > 59)
                return false;
        }
    }
    *i = p;
    return true;
}

/* A practical subset of DateTime.TryParse(InvariantCulture): a numeric date,
 * a time, or a date followed by 'T' or ' ' and a time. */
static bool chk_datetime(const char *s, size_t n)
{
    size_t i = 0;
    if (parse_date(s, n, &i)) {
        if (i == n)
            return true;
        if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
            return false;
        i++;
    }
    return parse_time(s, n, &i) && i == n;
}

/* String length in UTF-16 code units, as .NET's string.Length counts. */
static size_t utf16_len(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) != 0x80)
            k += c >= 0xF0 ? 2 : 1;
    }
    return k;
}

/* White space as .NET's parsers skip it: tab, line feed, vertical tab, form
 * feed, carriage return and space. */
static bool is_dotnet_space(int c)
{
    return c == ' ' || (c >= 0x09 && c <= 0x0D);
}

/* Runs one constraint on a present value. Returns 1/0, -ENOMEM, or -ERANGE
 * when a regex gave up (see REGEX_MATCH_LIMIT). */
static int cons_check(const struct cons *c, const char *s, size_t n)
{
    long long v;
    /* .NET's number, bool, Guid and DateTime parsers, which these
     * constraints use (NumberStyles.Integer, Number and Float all allow
     * leading and trailing white space), skip white space around the value */
    if (c->kind != C_ALPHA && c->kind != C_LENGTH && c->kind != C_MINLENGTH &&
        c->kind != C_MAXLENGTH && c->kind != C_REQUIRED && c->kind != C_REGEX) {
        while (n && is_dotnet_space((unsigned char)*s)) {
            s++;
            n--;
        }
        while (n && is_dotnet_space((unsigned char)s[n - 1]))
            n--;
    }
    switch (c->kind) {
    case C_INT:
        return parse_i64(s, n, &v) && v >= INT_MIN && v <= INT_MAX;
    case C_LONG:
        return parse_i64(s, n, NULL);
    case C_BOOL:
        return eq_ci(s, n, "true", 4) || eq_ci(s, n, "false", 5);
    case C_DATETIME:
        return chk_datetime(s, n);
    case C_DECIMAL:
        return chk_decimal(s, n);
    case C_DOUBLE:
    case C_FLOAT:
        return chk_double(s, n);
    case C_GUID:
        return chk_guid(s, n);
    case C_ALPHA:
        for (size_t i = 0; i < n; i++)
            if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
                return 0;
        return 1;
    case C_MIN:
        return parse_i64(s, n, &v) && v >= c->a;
    case C_MAX:
        return parse_i64(s, n, &v) && v <= c->a;
    case C_RANGE:
        return parse_i64(s, n, &v) && v >= c->a && v <= c->b;
    case C_LENGTH: {
        size_t l = utf16_len(s, n);
        return (long long)l >= c->a && (long long)l <= c->b;
    }
    case C_MINLENGTH:
        return (long long)utf16_len(s, n) >= c->a;
    case C_MAXLENGTH:
        return (long long)utf16_len(s, n) <= c->a;
    case C_REQUIRED:
        return n > 0;
    case C_REGEX: {
        pcre2_match_data *md = pcre2_match_data_create(1, NULL);
        if (!md)
            return -ENOMEM;
        int rc = pcre2_match(c->re, (PCRE2_SPTR)s, n, 0, 0, md, c->mc);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
            rc = pcre2_match(c->re, (PCRE2_SPTR)s, n, 0, PCRE2_NO_JIT, md, c->mc);
        pcre2_match_data_free(md);
        if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH)
            return rc >= 0;
        return rc == PCRE2_ERROR_NOMEMORY ? -ENOMEM : -ERANGE;
    }
    }
    return 0;
}

static int param_check(const struct param *p, const char *s, size_t n)
{
    for (size_t i = 0; i < p->ncons; i++) {
        int rc = cons_check(&p->cons[i], s, n);
        if (rc <= 0)
            return rc;
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Route lifetime and accessors                                             */
/* ------------------------------------------------------------------------ */

void fnh__route_free(fnh__route *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nseg; i++) {
        for (size_t j = 0; j < r->segs[i].nparts; j++)
            free(r->segs[i].parts[j].lit);
        free(r->segs[i].parts);
    }
    free(r->segs);
    for (size_t i = 0; i < r->nparams; i++) {
        struct param *p = &r->params[i];
        for (size_t j = 0; j < p->ncons; j++)
            if (p->cons[j].re) {
                pcre2_code_free(p->cons[j].re);
                pcre2_match_context_free(p->cons[j].mc);
            }
        free(p->cons);
        free(p->name);
        free(p->def);
    }
    free(r->params);
    free(r->tmpl);
    free(r);
}

const char *fnh__route_template(const fnh__route *r)
{
    return r ? r->tmpl : NULL;
}

size_t fnh__route_param_count(const fnh__route *r)
{
    return r ? r->nparams : 0;
}

const char *fnh__route_param_name(const fnh__route *r, size_t i)
{
    return (r && i < r->nparams) ? r->params[i].name : NULL;
}

/* ------------------------------------------------------------------------ */
/* Parser                                                                   */
/* ------------------------------------------------------------------------ */

struct pctx {
    const char *tmpl; /* as given, for messages */
    const char *t;    /* trimmed template */
    size_t n;
    size_t i;
    char **err;
    fnh__route *r;
    size_t cap_seg, cap_param;
};

/* Decodes "{{" -> "{" and "}}" -> "}" into a new string. */
static char *unescape_braces(const char *s, size_t n, size_t *outlen)
{
    char *o = malloc(n + 1);
    if (!o)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        o[k++] = s[i];
        if ((s[i] == '{' || s[i] == '}') && i + 1 < n && s[i + 1] == s[i])
            i++;
    }
    o[k] = 0;
    if (outlen)
        *outlen = k;
    return o;
}

/* Length of the template piece from `from` to the next '/' (or the end). */
static int seg_extent(const struct pctx *c, size_t from)
{
    size_t j = from;
    while (j < c->n && c->t[j] != '/')
        j++;
    return (int)(j - from);
}

static int unclosed_brace(const struct pctx *c)
{
    return fail(c->err,
                "unclosed '{' in route template '%s'; end the parameter with '}' or write a "
                "literal '{' as '{{'",
                c->tmpl);
}

static int add_part(struct part **parts, size_t *np, size_t *cap, struct part p)
{
    struct part *q = grow(*parts, *np, cap, 4, sizeof *q);
    if (!q)
        return -ENOMEM;
    *parts = q;
    q[(*np)++] = p;
    return 0;
}

/* Parses a literal run starting at c->i (stops at '/', end, or a parameter
 * '{'). Appends it to parts. */
static int parse_literal(struct pctx *c, struct part **parts, size_t *np, size_t *cap)
{
    size_t start = c->i;
    while (c->i < c->n && c->t[c->i] != '/') {
        char ch = c->t[c->i];
        if (ch == '{') {
            if (c->i + 1 >= c->n)
                return unclosed_brace(c);
            if (c->t[c->i + 1] != '{')
                break;
            c->i += 2;
            continue;
        }
        if (ch == '}') {
            if (c->i + 1 >= c->n || c->t[c->i + 1] != '}')
                return fail(c->err,
                            "unmatched '}' in route template '%s'; write a literal '}' as '}}'",
                            c->tmpl);
            c->i += 2;
            continue;
        }
        c->i++;
    }
    size_t len;
    char *lit = unescape_braces(c->t + start, c->i - start, &len);
    if (!lit)
        return -ENOMEM;
    if (memchr(lit, '?', len)) {
        int rc = fail(c->err,
                      "invalid literal '%s' in route template '%s'; a '?' is only allowed at "
                      "the end of a parameter, as in '{id?}'",
                      lit, c->tmpl);
        free(lit);
        return rc;
    }
    struct part p = {.lit = lit, .litlen = len, .param = 0};
    if (add_part(parts, np, cap, p) < 0) {
        free(lit);
        return -ENOMEM;
    }
    return 0;
}

/* The entry of cons_table named text[0..n), in any case; NULL when none. */
static const struct cons_kind *cons_lookup(const char *text, size_t n)
{
    for (size_t k = 0; k < NCONS_KINDS; k++)
        if (eq_ci(text, n, cons_table[k].name, strlen(cons_table[k].name)))
            return &cons_table[k];
    return NULL;
}

/* Compiles the pattern of a regex constraint, with the match limits. */
static int compile_regex(struct pctx *c, const char *ptext, const char *pat, size_t n,
                         struct cons *out)
{
    uint32_t opts = PCRE2_CASELESS | PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
    int ec;
    PCRE2_SIZE eoff;
    out->re = pcre2_compile((PCRE2_SPTR)pat, n, opts, &ec, &eoff, NULL);
    if (!out->re) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(ec, msg, sizeof msg) < 0)
            snprintf((char *)msg, sizeof msg, "error %d", ec);
        return fail(c->err,
                    "invalid regular expression '%.*s' in '%s': %s at offset %zu; fix the "
                    "pattern (inside a template write '{' and '}' as '{{' and '}}')",
                    (int)n, pat, ptext, (const char *)msg, (size_t)eoff);
    }
    pcre2_jit_compile(out->re, PCRE2_JIT_COMPLETE); /* the interpreter if it fails */
    out->mc = pcre2_match_context_create(NULL);
    if (!out->mc) {
        pcre2_code_free(out->re);
        return -ENOMEM;
    }
    pcre2_set_match_limit(out->mc, REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(out->mc, REGEX_DEPTH_LIMIT);
    pcre2_set_heap_limit(out->mc, REGEX_HEAP_KIB);
    return 0;
}

/* Reads "a" or "a,b" (each item trimmed of blanks) as integers into v;
 * false when an item is not an integer or there are more than two. */
static bool parse_int_list(const char *args, size_t alen, long long v[2], size_t *nv)
{
    const char *p = args, *end = args + alen;
    *nv = 0;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        const char *a = p;
        while (a < e && (*a == ' ' || *a == '\t'))
            a++;
        const char *b = e;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (*nv == 2 || !parse_i64(a, (size_t)(b - a), &v[*nv]))
            return false;
        (*nv)++;
        if (!comma)
            return true;
        p = comma + 1;
    }
}

/* Do nv integers suit a constraint taking nargs (1: one, 2: two, 3: one or
 * two), each from 0 to INT_MAX for a length? */
static bool int_args_fit(int nargs, bool is_len, const long long v[2], size_t nv)
{
    for (size_t j = 0; is_len && j < nv; j++)
        if (v[j] < 0 || v[j] > INT_MAX)
            return false;
    return nargs == 1 ? nv == 1 : nargs == 2 ? nv == 2 : nv >= 1;
}

static int bad_int_args(struct pctx *c, const struct cons_kind *k, bool is_len,
                        const char *ptext)
{
    if (k->nargs == 2)
        return fail(c->err,
                    "route constraint '%s' in '%s' needs two integer arguments; write e.g. "
                    "'%s(1,10)'",
                    k->name, ptext, k->name);
    if (k->nargs == 3)
        return fail(c->err,
                    "route constraint '%s' in '%s' needs one or two non-negative integer "
                    "arguments; write e.g. 'length(6)' or 'length(1,20)'",
                    k->name, ptext);
    return fail(c->err,
                "route constraint '%s' in '%s' needs %s integer argument; write e.g. "
                "'%s(1)'",
                k->name, ptext, is_len ? "a non-negative" : "an", k->name);
}

/* The integer arguments args[0..alen) (NULL without parentheses) of the
 * constraint text of kind k: min, max, range or a length. */
static int resolve_int_args(struct pctx *c, const char *ptext, const char *text, size_t tlen,
                            const char *args, size_t alen, const struct cons_kind *k,
                            struct cons *out)
{
    long long v[2];
    size_t nv = 0;
    bool is_len = k->kind == C_LENGTH || k->kind == C_MINLENGTH || k->kind == C_MAXLENGTH;
    if (!args || !parse_int_list(args, alen, v, &nv) || !int_args_fit(k->nargs, is_len, v, nv))
        return bad_int_args(c, k, is_len, ptext);
    out->a = v[0];
    out->b = nv > 1 ? v[1] : v[0];
    if (nv == 2 && out->a > out->b)
        return fail(c->err,
                    "route constraint '%.*s' in '%s' has its minimum above its maximum; write "
                    "'%s(%lld,%lld)'",
                    (int)tlen, text, ptext, k->name, out->b, out->a);
    return 0;
}

/* Resolves one constraint text ("int", "min(3)", "regex(^a$)") for the
 * parameter whose raw text is ptext. */
static int resolve_constraint(struct pctx *c, const char *ptext, const char *text, size_t tlen,
                              struct cons *out)
{
    const char *paren = memchr(text, '(', tlen);
    size_t nlen = paren ? (size_t)(paren - text) : tlen;
    const char *args = NULL;
    size_t alen = 0;
    if (paren) {
        if (text[tlen - 1] != ')')
            return fail(c->err,
                        "route constraint '%.*s' in '%s' is missing its closing ')'; write "
                        "'%.*s)'",
                        (int)tlen, text, ptext, (int)tlen, text);
        args = paren + 1;
        alen = tlen - nlen - 2;
    }
    const struct cons_kind *k = cons_lookup(text, nlen);
    if (!k)
        return fail(c->err, "unknown route constraint '%.*s' in '%s'; use one of " CONS_NAME_LIST,
                    (int)nlen, text, ptext);
    memset(out, 0, sizeof *out);
    out->kind = k->kind;
    if (k->nargs == 0 && paren)
        return fail(c->err, "route constraint '%s' in '%s' takes no arguments; write '%s'",
                    k->name, ptext, k->name);
    if (k->nargs == 0)
        return 0;
    if (k->nargs == 4 && alen == 0) /* also without parentheses */
        return fail(c->err,
                    "route constraint 'regex' in '%s' needs a pattern; write e.g. "
                    "'regex(^[a-z]+$)'",
                    ptext);
    if (k->nargs == 4)
        return compile_regex(c, ptext, args, alen, out);
    return resolve_int_args(c, ptext, text, tlen, args, alen, k, out);
}

static int add_constraint(struct pctx *c, struct param *p, const char *ptext, const char *text,
                          size_t tlen, size_t *cap)
{
    struct cons *q = grow(p->cons, p->ncons, cap, 2, sizeof *q);
    if (!q)
        return -ENOMEM;
    p->cons = q;
    struct cons cs;
    int rc = resolve_constraint(c, ptext, text, tlen, &cs);
    if (rc < 0)
        return rc;
    p->cons[p->ncons++] = cs;
    if (cs.kind == C_REGEX)
        p->has_regex = true;
    return 0;
}

/* The markers around a parameter's inside s[0..n): '*' or '**' before it
 * (catch-all), '?' after it (optional), set on p. The rest lies in
 * s[*start..*end]. */
static void param_markers(const char *s, size_t n, struct param *p, ptrdiff_t *start,
                          ptrdiff_t *end)
{
    *start = 0;
    *end = (ptrdiff_t)n - 1;
    if (n >= 2 && s[0] == '*' && s[1] == '*') {
        p->catchall = true;
        *start = 2;
    } else if (n >= 1 && s[0] == '*') {
        p->catchall = true;
        *start = 1;
    }
    if (n >= 1 && s[*end] == '?') {
        p->optional = true;
        (*end)--;
    }
}

/* Where the name in s[start..end] ends (exclusive): at the first ':' or '='
 * after its first character, or at the end. *cur is where the constraints
 * are read from: the name's last character, or past the end. */
static ptrdiff_t param_name_end(const char *s, ptrdiff_t start, ptrdiff_t end, ptrdiff_t *cur)
{
    ptrdiff_t name_end = start;
    for (*cur = start; *cur <= end; (*cur)++) {
        if ((s[*cur] == ':' || s[*cur] == '=') && *cur != start) {
            name_end = *cur;
            (*cur)--;
            break;
        } else if (*cur == end) {
            name_end = *cur + 1;
        }
    }
    return name_end;
}

/* ASP.NET's ParseConstraints: a state machine reading s[cur..end] that cuts
 * the text after the name into constraints and adds them to p; it stops at
 * the '=' of a default value (left at cur) or past the end. */
struct cscan {
    struct pctx *c;
    struct param *p;
    const char *ptext, *s;
    ptrdiff_t end;
    ptrdiff_t cur; /* the character being read */
    ptrdiff_t cs;  /* where the constraint being read starts */
    size_t cap;    /* of p->cons */
    enum { ST_START, ST_NAME, ST_PAREN, ST_END } st;
};

/* Adds the constraint s[cs..cs + len). */
static int scan_take(struct cscan *x, ptrdiff_t len)
{
    return add_constraint(x->c, x->p, x->ptext, x->s + x->cs, (size_t)len, &x->cap);
}

/* Before a constraint: ':' starts one, '(' starts arguments, '=' or the
 * end (ch == -1) stops. */
static int scan_start(struct cscan *x, int ch)
{
    if (ch == -1) {
        x->st = ST_END;
    } else if (ch == ':') {
        x->st = ST_NAME;
        x->cs = x->cur + 1;
    } else if (ch == '(') {
        x->st = ST_PAREN;
    } else if (ch == '=') {
        x->st = ST_END;
        x->cur--;
    }
    return 0;
}

/* In a constraint's name: ':', '=' or the end closes a non-empty one;
 * '(' starts its arguments. */
static int scan_name(struct cscan *x, int ch)
{
    int rc = 0;
    if (ch == -1 || ch == ':' || ch == '=') {
        if (x->cur - x->cs > 0)
            rc = scan_take(x, x->cur - x->cs);
        if (ch == -1) {
            x->st = ST_END;
        } else if (ch == ':') {
            x->cs = x->cur + 1;
        } else {
            x->st = ST_END;
            x->cur--;
        }
    } else if (ch == '(') {
        x->st = ST_PAREN;
    }
    return rc;
}

/* In a constraint's arguments: a ')' followed by ':', '=' or the end closes
 * the constraint; so does a ':' or '=' with no ')' after it, while one with
 * a ')' after it is taken as part of the arguments up to that ')'. */
static int scan_paren(struct cscan *x, int ch)
{
    int rc = 0;
    if (ch == -1) {
        x->st = ST_END;
        rc = scan_take(x, x->cur - x->cs);
    } else if (ch == ')') {
        int nx = x->cur + 1 > x->end ? -1 : (unsigned char)x->s[x->cur + 1];
        if (nx == -1 || nx == ':' || nx == '=') {
            rc = scan_take(x, x->cur - x->cs + 1);
            if (nx == ':') {
                x->st = ST_START;
                x->cs = x->cur + 1;
            } else {
                x->st = ST_END;
            }
        }
    } else if (ch == ':' || ch == '=') {
        const char *close = memchr(x->s + x->cur + 1, ')', (size_t)(x->end - x->cur));
        if (x->cur + 1 > x->end || !close) {
            rc = scan_take(x, x->cur - x->cs);
            if (ch == ':') {
                x->st = ST_NAME;
                x->cs = x->cur + 1;
            } else {
                x->st = ST_END;
                x->cur--;
            }
        } else {
            x->cur = close - x->s;
        }
    }
    return rc;
}

static int scan_constraints(struct cscan *x)
{
    do {
        int ch = x->cur > x->end ? -1 : (unsigned char)x->s[x->cur];
        int rc = x->st == ST_START  ? scan_start(x, ch)
                 : x->st == ST_NAME ? scan_name(x, ch)
                                    : scan_paren(x, ch);
        if (rc < 0)
            return rc;
        x->cur++;
    } while (x->st != ST_END);
    return 0;
}

/* The inside of a parameter (braces already unescaped), ASP.NET's
 * RouteParameterParser: [*|**]name[:constraint[(args)]]...[=default][?]. */
static int parse_param_inside(struct pctx *c, const char *ptext, const char *s, size_t n,
                              struct param *p)
{
    ptrdiff_t start, end, cur;
    param_markers(s, n, p, &start, &end);
    ptrdiff_t name_end = param_name_end(s, start, end, &cur);
    p->name = xstrndup(s + start, name_end > start ? (size_t)(name_end - start) : 0);
    if (!p->name)
        return -ENOMEM;
    struct cscan x = {.c = c, .p = p, .ptext = ptext, .s = s, .end = end, .cur = cur, .cs = cur,
                      .cap = 0, .st = ST_START};
    int rc = scan_constraints(&x);
    if (rc < 0)
        return rc;
    if (x.cur <= end && s[x.cur] == '=') {
        p->def = xstrndup(s + x.cur + 1, (size_t)(end - x.cur));
        if (!p->def)
            return -ENOMEM;
    }
    return 0;
}

/* Where the parameter whose '{' is at start ends: just past its closing
 * '}', into *out; "{{" and "}}" inside it are escaped braces. */
static int param_extent(struct pctx *c, size_t start, size_t *out)
{
    size_t i = start + 1;
    for (;;) {
        if (i >= c->n)
            return unclosed_brace(c);
        if (c->t[i] == '{') {
            if (i + 1 >= c->n)
                return unclosed_brace(c);
            if (c->t[i + 1] != '{')
                return fail(c->err,
                            "unescaped '{' inside parameter '%.*s'; inside a parameter write a "
                            "literal '{' as '{{' and '}' as '}}'",
                            seg_extent(c, start), c->t + start);
            i += 2;
        } else if (c->t[i] == '}' && i + 1 < c->n && c->t[i + 1] == '}') {
            i += 2;
        } else if (c->t[i] == '}') {
            *out = i + 1;
            return 0;
        } else {
            i++;
        }
    }
}

/* A new parameter at the end of the route's, zeroed; NULL when out of
 * memory. */
static struct param *new_param(struct pctx *c)
{
    fnh__route *r = c->r;
    struct param *q = grow(r->params, r->nparams, &c->cap_param, 4, sizeof *q);
    if (!q)
        return NULL;
    r->params = q;
    struct param *p = &q[r->nparams++];
    memset(p, 0, sizeof *p);
    return p;
}

/* The rules for a parameter once read: a catch-all is not optional, an
 * optional one has no default, the name is there, valid and not used by
 * an earlier parameter of the route. */
static int check_param(struct pctx *c, const char *ptext, const char *inside, size_t ilen,
                       const struct param *p)
{
    const fnh__route *r = c->r;
    if (inside[0] == '*' && inside[ilen - 1] == '?')
        return fail(c->err,
                    "the catch-all parameter '%s' cannot be optional; remove the '?' (a "
                    "catch-all may already match nothing)",
                    ptext);
    if (p->optional && p->def)
        return fail(c->err,
                    "the optional parameter '%s' cannot also have a default value; use '{%s?}' "
                    "or '{%s=%s}'",
                    ptext, p->name, p->name, p->def);
    if (p->name[0] == 0)
        return fail(c->err, "parameter '%s' has no name; write a name, as in '{id}'", ptext);
    if (strpbrk(p->name, "/{}?*"))
        return fail(c->err,
                    "invalid parameter name '%s' in '%s'; a name cannot contain '/', '{', '}', "
                    "'?' or '*'",
                    p->name, ptext);
    for (size_t k = 0; k + 1 < r->nparams; k++)
        if (strcasecmp(r->params[k].name, p->name) == 0)
            return fail(c->err,
                        "duplicate parameter name '%s' in route template '%s'; give each "
                        "parameter a different name",
                        p->name, c->tmpl);
    return 0;
}

/* Parses "{...}" at c->i and appends a parameter part. */
static int parse_parameter(struct pctx *c, struct part **parts, size_t *np, size_t *cap)
{
    size_t start = c->i;
    int rc = param_extent(c, start, &c->i);
    if (rc < 0)
        return rc;
    size_t plen = c->i - start;
    char *ptext = xstrndup(c->t + start, plen);
    if (!ptext)
        return -ENOMEM;
    char *inside = NULL;
    size_t ilen;
    struct param *p;
    if (plen == 2) {
        rc = fail(c->err, "parameter '{}' has no name; write a name, as in '{id}'");
        goto out;
    }
    inside = unescape_braces(ptext + 1, plen - 2, &ilen);
    if (!inside || !(p = new_param(c))) {
        rc = -ENOMEM;
        goto out;
    }
    rc = parse_param_inside(c, ptext, inside, ilen, p);
    if (!rc)
        rc = check_param(c, ptext, inside, ilen, p);
    if (!rc)
        rc = add_part(parts, np, cap, (struct part){.lit = NULL, .param = c->r->nparams - 1});
out:
    free(inside);
    free(ptext);
    return rc;
}

static void part_text(const fnh__route *r, const struct part *p, char *buf, size_t n)
{
    if (p->lit)
        snprintf(buf, n, "%s", p->lit);
    else
        snprintf(buf, n, "{%s}", r->params[p->param].name);
}

/* ASP.NET's IsSegmentValid for a segment's parts. */
static int check_segment(struct pctx *c, struct part *parts, size_t np, size_t seg_start)
{
    const fnh__route *r = c->r;
    int sl = (int)(c->i - seg_start);
    const char *st = c->t + seg_start;
    for (size_t i = 0; i < np; i++)
        if (!parts[i].lit && r->params[parts[i].param].catchall && np > 1)
            return fail(c->err,
                        "the catch-all parameter '{*%s}' must be a segment of its own, not "
                        "part of '%.*s'; put it in its own last segment",
                        r->params[parts[i].param].name, sl, st);
    for (size_t i = 0; i < np; i++) {
        if (parts[i].lit || !r->params[parts[i].param].optional || np == 1)
            continue;
        const char *name = r->params[parts[i].param].name;
        if (i != np - 1) {
            char nb[256];
            part_text(r, &parts[i + 1], nb, sizeof nb);
            return fail(c->err,
                        "the optional parameter '%s' must be the last part of segment '%.*s' "
                        "but is followed by '%s'; make it required or move it to the end of the "
                        "segment",
                        name, sl, st, nb);
        }
        if (!parts[i - 1].lit || strcmp(parts[i - 1].lit, ".") != 0) {
            char pb[256];
            part_text(r, &parts[i - 1], pb, sizeof pb);
            return fail(c->err,
                        "the optional parameter '%s' in segment '%.*s' follows '%s' but can only "
                        "follow a period, as in '{file}.{ext?}'; put a '.' before it or make it "
                        "required",
                        name, sl, st, pb);
        }
    }
    for (size_t i = 1; i < np; i++)
        if (!parts[i].lit && !parts[i - 1].lit)
            return fail(c->err,
                        "segment '%.*s' has two parameters with nothing between them; separate "
                        "them with literal text, as in '{a}-{b}'",
                        sl, st);
    return 0;
}

static void free_parts(struct part *parts, size_t np)
{
    for (size_t i = 0; i < np; i++)
        free(parts[i].lit);
    free(parts);
}

static int parse_segment(struct pctx *c)
{
    struct part *parts = NULL;
    size_t np = 0, cap = 0;
    size_t seg_start = c->i;
    int rc = 0;
    while (c->i < c->n && c->t[c->i] != '/') {
        if (c->t[c->i] == '{' && !(c->i + 1 < c->n && c->t[c->i + 1] == '{'))
            rc = c->i + 1 >= c->n ? parse_literal(c, &parts, &np, &cap)
                                  : parse_parameter(c, &parts, &np, &cap);
        else
            rc = parse_literal(c, &parts, &np, &cap);
        if (rc < 0)
            goto bad;
    }
    rc = check_segment(c, parts, np, seg_start);
    if (rc < 0)
        goto bad;
    fnh__route *r = c->r;
    struct segment *q = grow(r->segs, r->nseg, &c->cap_seg, 4, sizeof *q);
    if (!q) {
        rc = -ENOMEM;
        goto bad;
    }
    r->segs = q;
    struct segment *sg = &r->segs[r->nseg++];
    memset(sg, 0, sizeof *sg);
    sg->parts = parts;
    sg->nparts = np;
    if (np > 1) {
        sg->kind = SEG_COMPLEX;
        sg->digit = 2;
        const struct part *lp = &parts[np - 1];
        sg->opt_tail = !lp->lit && r->params[lp->param].optional;
    } else if (parts[0].lit) {
        sg->kind = SEG_LIT;
        sg->digit = 1;
    } else {
        const struct param *p = &r->params[parts[0].param];
        bool constrained = p->ncons > 0;
        if (p->catchall) {
            sg->kind = SEG_CATCHALL;
            sg->digit = constrained ? 7 : 8;
            sg->absentable = true;
        } else {
            sg->kind = SEG_PARAM;
            if (p->optional || p->def)
                sg->digit = constrained ? 5 : 6;
            else
                sg->digit = constrained ? 3 : 4;
            sg->absentable = p->optional || p->def;
        }
    }
    return 0;
bad:
    free_parts(parts, np);
    return rc;
}

/* Drops a leading "~/" or "/" and one trailing '/' (but not of "//"). */
static int trim_template(struct pctx *c)
{
    if (c->n >= 2 && c->t[0] == '~' && c->t[1] == '/') {
        c->t += 2;
        c->n -= 2;
    } else if (c->n >= 1 && c->t[0] == '/') {
        c->t++;
        c->n--;
    } else if (c->n >= 1 && c->t[0] == '~') {
        return fail(c->err,
                    "route template '%s' cannot start with '~' unless it is followed by '/'; "
                    "remove the '~'",
                    c->tmpl);
    }
    if (c->n >= 1 && c->t[c->n - 1] == '/' && !(c->n >= 2 && c->t[c->n - 2] == '/'))
        c->n--;
    return 0;
}

static int empty_segment(const struct pctx *c)
{
    return fail(c->err, "empty segment in route template '%s'; remove the extra '/'", c->tmpl);
}

/* The segments between the '/'s, none of them empty. */
static int parse_segments(struct pctx *c)
{
    while (c->i < c->n) {
        if (c->t[c->i] == '/')
            return empty_segment(c);
        int rc = parse_segment(c);
        if (rc < 0)
            return rc;
        if (c->i < c->n && ++c->i == c->n) /* nothing after the separator */
            return empty_segment(c);
    }
    return 0;
}

static int check_catchall_last(const struct pctx *c)
{
    const fnh__route *r = c->r;
    for (size_t i = 0; i + 1 < r->nseg; i++)
        if (r->segs[i].kind == SEG_CATCHALL)
            return fail(c->err,
                        "the catch-all parameter '{*%s}' must be the last segment; move it to "
                        "the end of the template",
                        r->params[r->segs[i].parts[0].param].name);
    return 0;
}

/* Whether the route ends in a catch-all, and the fewest request segments
 * it can match. */
static void measure_route(fnh__route *r)
{
    r->catchall = r->nseg > 0 && r->segs[r->nseg - 1].kind == SEG_CATCHALL;
    r->min_segs = 0;
    for (size_t i = 0; i < r->nseg; i++)
        if (!r->segs[i].absentable)
            r->min_segs = i + 1;
}

/* Does each default value satisfy its own parameter's constraints? */
static int check_defaults(const struct pctx *c)
{
    fnh__route *r = c->r;
    for (size_t i = 0; i < r->nparams; i++) {
        struct param *p = &r->params[i];
        if (!p->def)
            continue;
        int ok = param_check(p, p->def, strlen(p->def));
        if (ok == -ERANGE)
            return fail(c->err,
                        "the regex constraint of '{%s}' in '%s' gives up on the parameter's "
                        "default value (too much backtracking); simplify the pattern",
                        p->name, c->tmpl);
        if (ok < 0)
            return ok;
        p->def_ok = ok == 1;
    }
    return 0;
}

int fnh__route_parse(const char *tmpl, fnh__route **out, char **err)
{
    if (err)
        *err = NULL;
    if (out)
        *out = NULL;
    if (!tmpl || !out)
        return fail(err, "no route template given; pass a template such as 'api/items/{id}'");
    fnh__route *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->tmpl = strdup(tmpl);
    if (!r->tmpl) {
        free(r);
        return -ENOMEM;
    }
    struct pctx c = {.tmpl = tmpl, .t = tmpl, .n = strlen(tmpl), .err = err, .r = r};
    int rc = trim_template(&c);
    if (!rc)
        rc = parse_segments(&c);
    if (!rc)
        rc = check_catchall_last(&c);
    if (!rc) {
        measure_route(r);
        rc = check_defaults(&c);
    }
    if (rc) {
        fnh__route_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Matching one route                                                       */
/* ------------------------------------------------------------------------ */

/* ASP.NET's MatchComplexSegmentCore: right to left, each literal at its last
 * occurrence left of what is already consumed; every parameter non-empty. */
static bool complex_core(const struct segment *sg, const char *s, size_t slen, size_t base,
                         ptrdiff_t last_used, struct span *vals)
{
    size_t last_index = slen;
    const struct part *pending = NULL, *last_lit = NULL;
    for (ptrdiff_t i = last_used; i >= 0; i--) {
        size_t new_last = last_index;
        const struct part *p = &sg->parts[i];
        if (!p->lit) {
            pending = p;
        } else {
            last_lit = p;
            size_t start = last_index;
            if (pending) {
                if (start == 0)
                    return false;
                start--;
            }
            if (start == 0)
                return false;
            ptrdiff_t idx = last_index_ci(s, start, p->lit, p->litlen);
            if (idx < 0)
                return false;
            /* the rightmost used literal must end the segment */
            if (i == last_used && (size_t)idx + p->litlen != slen)
                return false;
            new_last = (size_t)idx;
        }
        if (pending && ((last_lit && p->lit) || i == 0)) {
            size_t ps, pl;
            if (!last_lit || (i == 0 && !p->lit)) {
                ps = 0;
                pl = last_index;
            } else {
                ps = new_last + last_lit->litlen;
                pl = last_index - ps;
            }
            if (pl == 0)
                return false;
            vals[pending->param] = (struct span){base + ps, pl, V_PRESENT};
            pending = NULL;
            last_lit = NULL;
        }
        last_index = new_last;
    }
    return last_index == 0 || !sg->parts[0].lit;
}

static bool complex_match(const struct segment *sg, const char *s, size_t slen, size_t base,
                          struct span *vals)
{
    ptrdiff_t last = (ptrdiff_t)sg->nparts - 1;
    if (sg->opt_tail) {
        if (complex_core(sg, s, slen, base, last, vals))
            return true;
        vals[sg->parts[last].param].st = V_ABSENT;
        const struct part *sep = &sg->parts[last - 1];
        if (slen >= sep->litlen && eq_ci(s + slen - sep->litlen, sep->litlen, sep->lit, sep->litlen))
            return false;
        return complex_core(sg, s, slen, base, last - 2, vals);
    }
    return complex_core(sg, s, slen, base, last, vals);
}

/* Captures the values of route r's parameters from q into vals (one per
 * route parameter) and checks their constraints, taking the segment count
 * and the literal segments as matched (route_try checks them; the trie walk
 * has matched them on its way). Returns 1 on a match, 0 if not, -ENOMEM, or
 * -ERANGE when the constraint of parameter *gave_up gave up. */
static int route_values(const fnh__route *r, const struct req *q, struct span *vals,
                        size_t *gave_up)
{
    for (size_t k = 0; k < r->nparams; k++)
        vals[k].st = V_ABSENT;
    /* past the request's last segment the rest is absentable (min_segs) */
    size_t nk = r->nseg < q->nseg ? r->nseg : q->nseg;
    for (size_t k = 0; k < nk; k++) {
        const struct segment *sg = &r->segs[k];
        size_t so = q->off[k], sl = q->len[k];
        switch (sg->kind) {
        case SEG_LIT:
            break;
        case SEG_PARAM:
            vals[sg->parts[0].param] = (struct span){so, sl, V_PRESENT};
            break;
        case SEG_CATCHALL:
            vals[sg->parts[0].param] = (struct span){so, q->declen - so, V_PRESENT};
            break;
        case SEG_COMPLEX:
            if (!complex_match(sg, q->dec + so, sl, so, vals))
                return 0;
            break;
        }
    }
    for (size_t k = 0; k < r->nparams; k++) {
        const struct param *p = &r->params[k];
        if (vals[k].st == V_PRESENT) {
            int rc = param_check(p, q->dec + vals[k].off, vals[k].len);
            if (rc == -ERANGE)
                *gave_up = k;
            if (rc <= 0)
                return rc;
        } else if (p->def) {
            if (!p->def_ok)
                return 0;
        } else if (p->catchall && p->ncons > 0) {
            return 0; /* ASP.NET constraints reject a null value */
        }
    }
    return 1;
}

/* Tries route r on request q, filling vals as route_values does; the same
 * returns. */
static int route_try(const fnh__route *r, const struct req *q, struct span *vals,
                     size_t *gave_up)
{
    if (q->nseg < r->min_segs || (!r->catchall && q->nseg > r->nseg))
        return 0;
    size_t nk = r->nseg < q->nseg ? r->nseg : q->nseg;
    for (size_t k = 0; k < nk; k++) {
        const struct segment *sg = &r->segs[k];
        if (sg->kind == SEG_LIT &&
            !eq_ci(q->dec + q->off[k], q->len[k], sg->parts[0].lit, sg->parts[0].litlen))
            return 0;
    }
    return route_values(r, q, vals, gave_up);
}

/* Drops the leading '/' and one trailing '/' of a request path. */
static inline void trim_slashes(const char **path, size_t *len)
{
    if (*len > 0 && **path == '/') {
        (*path)++;
        (*len)--;
    }
    if (*len >= 2 && (*path)[*len - 1] == '/')
        (*len)--;
}

/* Splits the raw path on '/' (after dropping the leading '/' and one
 * trailing '/') into q, whose segments then lie in path itself, using
 * off/lens arrays of at least cap entries. Returns 1 if usable, 2 if usable
 * once req_decode has run (the path holds a '%'), 0 if the path cannot
 * match anything (empty segment), -1 if more than cap segments. */
static inline int req_split(struct req *q, const char *path, size_t len, size_t *off,
                            size_t *lens, size_t cap)
{
    trim_slashes(&path, &len);
    q->dec = path;
    q->declen = len;
    q->nseg = 0;
    q->off = off;
    q->len = lens;
    if (len == 0)
        return 1;
    size_t i = 0;
    bool pct = false;
    for (;;) {
        if (q->nseg == cap)
            return -1;
        size_t start = i;
        for (; i < len; i++) {
            unsigned char c = (unsigned char)path[i];
            if (c <= '/') { /* below the digits and letters, as are '/' and '%' */
                if (c == '/')
                    break;
                pct |= c == '%';
            }
        }
        if (i == start)
            return 0;
        off[q->nseg] = start;
        lens[q->nseg] = i - start;
        q->nseg++;
        if (i == len)
            break;
        if (++i == len)
            return 0; /* "a//" after trimming one slash */
    }
    return pct ? 2 : 1;
}

/* Percent-decodes each segment of q (as req_split left it) into buf (at
 * least q->declen bytes), joined with '/' so a catch-all value is one span;
 * q then points into buf. */
static void req_decode(struct req *q, char *buf)
{
    size_t o = 0;
    for (size_t k = 0; k < q->nseg; k++) {
        const char *s = q->dec + q->off[k];
        size_t n = q->len[k];
        if (k)
            buf[o++] = '/';
        size_t start = o;
        for (size_t i = 0; i < n;) {
            char ch = s[i];
            if (ch == '%' && i + 2 < n && is_hex((unsigned char)s[i + 1]) &&
                is_hex((unsigned char)s[i + 2])) {
                int v = hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]);
                /* as Kestrel: "%2F" stays encoded (the value keeps it; it
                 * never splits a segment), and so does "%00" */
                if (v != 0 && v != '/') {
                    buf[o++] = (char)v;
                    i += 3;
                    continue;
                }
            }
            buf[o++] = ch;
            i++;
        }
        q->off[k] = start;
        q->len[k] = o - start;
    }
    q->dec = buf;
    q->declen = o;
}

static size_t count_segs(const char *path, size_t len)
{
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += path[i] == '/';
    return n;
}

/* ------------------------------------------------------------------------ */
/* Router                                                                   */
/* ------------------------------------------------------------------------ */

struct entry {
    fnh__route *route;
    unsigned methods;
    void *target;
    size_t seq;
};

struct node;
struct edge {
    char *key; /* lower-cased literal */
    size_t len;
    uint64_t hash; /* words_hash_ci of the key */
    struct node *child;
};

/* One trie node: request segments consumed so far matched literal edges or
 * "other" (a parameter or complex segment) edges. `end` lists routes (by
 * rank) that can match when the request ends here; `tail` lists routes whose
 * catch-all starts here and so match any further segments. */
struct node {
    struct edge *edges;
    size_t nedges, capedges;
    size_t *slots, mask; /* hash index of the edges (index + 1, 0 = free) or NULL */
    struct node *other;
    size_t *end, nend, capend;
    size_t *tail, ntail, captail;
};

/* A route made of literal segments only, by its whole path: the request
 * whose path is that text (ignoring case) needs no walk, as no other kind
 * of route can outrank it (see literal_match). */
struct literal {
    char *key; /* lower-cased segments joined by '/' */
    size_t len;
    uint64_t hash; /* words_hash_ci of the key */
    size_t rank;
};

struct fnh__router {
    struct entry *e;
    size_t n, cap;
    bool finalized;
    struct node *root;
    size_t max_params;
    struct literal *lits; /* in rank order */
    size_t nlits;
    size_t *lit_slots, lit_mask; /* hash index of lits (index + 1, 0 = free) */
};

fnh__router *fnh__router_new(void)
{
    return calloc(1, sizeof(fnh__router));
}

int fnh__router_add(fnh__router *rt, fnh__route *route, unsigned methods, void *target)
{
    if (!rt || !route)
        return -EINVAL;
    struct entry *q = grow(rt->e, rt->n, &rt->cap, 16, sizeof *q);
    if (!q)
        return -ENOMEM;
    rt->e = q;
    rt->e[rt->n] = (struct entry){route, methods ? methods : FNH__M_ALL, target, rt->n};
    rt->n++;
    rt->finalized = false;
    if (route->nparams > rt->max_params)
        rt->max_params = route->nparams;
    return 0;
}

static void node_free(struct node *nd)
{
    if (!nd)
        return;
    for (size_t i = 0; i < nd->nedges; i++) {
        free(nd->edges[i].key);
        node_free(nd->edges[i].child);
    }
    free(nd->edges);
    free(nd->slots);
    node_free(nd->other);
    free(nd->end);
    free(nd->tail);
    free(nd);
}

static void literals_free(fnh__router *rt)
{
    for (size_t i = 0; i < rt->nlits; i++)
        free(rt->lits[i].key);
    free(rt->lits);
    free(rt->lit_slots);
    rt->lits = NULL;
    rt->lit_slots = NULL;
    rt->nlits = rt->lit_mask = 0;
}

void fnh__router_free(fnh__router *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->n; i++)
        fnh__route_free(rt->e[i].route);
    free(rt->e);
    node_free(rt->root);
    literals_free(rt);
    free(rt);
}

/* Precedence order: segment digits left to right (a missing segment counts
 * as 0, so "a" sorts before "a/{b?}" as in ASP.NET), then the template text
 * (case-insensitive, then exact), then methods, then add order. */
static int entry_cmp(const void *pa, const void *pb)
{
    const struct entry *a = pa, *b = pb;
    const fnh__route *ra = a->route, *rb = b->route;
    size_t n = ra->nseg > rb->nseg ? ra->nseg : rb->nseg;
    for (size_t i = 0; i < n; i++) {
        int da = i < ra->nseg ? ra->segs[i].digit : 0;
        int db = i < rb->nseg ? rb->segs[i].digit : 0;
        if (da != db)
            return da < db ? -1 : 1;
    }
    int c = strcasecmp(ra->tmpl, rb->tmpl);
    if (c == 0)
        c = strcmp(ra->tmpl, rb->tmpl);
    if (c != 0)
        return c < 0 ? -1 : 1;
    if (a->methods != b->methods)
        return a->methods < b->methods ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int push_rank(size_t **arr, size_t *n, size_t *cap, size_t v)
{
    size_t *q = grow(*arr, *n, cap, 4, sizeof *q);
    if (!q)
        return -ENOMEM;
    *arr = q;
    q[(*n)++] = v;
    return 0;
}

/* Edge order: by length, then by lower-cased bytes, so that most steps of
 * a search are decided by the length alone. Compares edge e with s[0..n). */
static int edge_cmp(const struct edge *e, const char *s, size_t n)
{
    if (e->len != n)
        return e->len < n ? -1 : 1;
    for (size_t i = 0; i < n; i++) {
        int x = (unsigned char)e->key[i], y = (unsigned char)s[i];
        if (x != y && x != (y = lower(y))) /* most requests are in lower case */
            return x < y ? -1 : 1;
    }
    return 0;
}

/* The 8 bytes of w with the ASCII capitals lower-cased, all at once: a
 * byte's top bit marks it at or above 'A', and not above 'Z'. */
static inline uint64_t lower8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u;
    uint64_t low7 = w & 0x7f * ones;
    uint64_t at_least_a = low7 + (0x80 - 'A') * ones, above_z = low7 + (0x80 - 'Z' - 1) * ones;
    return w | (at_least_a & ~above_z & ~w & 0x80 * ones) >> 2;
}

/* The first n bytes of s (n < 8) as a word, the rest zero. */
static inline uint64_t short_word(const char *s, size_t n)
{
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)(unsigned char)s[i] << (8 * i);
    return w;
}

static inline uint64_t word_at(const char *s)
{
    uint64_t w;
    memcpy(&w, s, 8);
    return w;
}

/* The offset of the word after the one at i in n >= 8 bytes (n: none):
 * whole words, and a last one that ends at n, overlapping the one before. */
static inline size_t next_word(size_t i, size_t n)
{
    return i + 16 <= n || i + 8 == n ? i + 8 : n - 8;
}

/* A hash of s (n bytes) ignoring ASCII case, a word at a time; low (when
 * not NULL, with room for n bytes and at least 8) gets s lower-cased (as
 * one word, zero after the n bytes, when n < 8). Always inline: the calls
 * without low lose that part. */
static inline __attribute__((always_inline)) uint64_t words_hash_ci(const char *s, size_t n,
                                                                    char *low)
{
    uint64_t h = n * 0x9e3779b97f4a7c15u;
    if (n < 8) {
        uint64_t lw = lower8(short_word(s, n));
        if (low)
            memcpy(low, &lw, 8);
        return (h ^ lw) * 0xff51afd7ed558ccdu;
    }
    for (size_t i = 0; i < n; i = next_word(i, n)) {
        uint64_t lw = lower8(word_at(s + i));
        if (low)
            memcpy(low + i, &lw, 8);
        h = (h ^ lw) * 0xff51afd7ed558ccdu;
        h ^= h >> 32;
    }
    return h;
}

/* Whether key (n bytes, lower case, zero-padded to 8 when shorter) holds
 * the bytes low does (as words_hash_ci lower-cased them). */
static inline bool words_equal(const char *key, const char *low, size_t n)
{
    if (n < 8)
        return word_at(key) == word_at(low);
    for (size_t i = 0; i < n; i = next_word(i, n))
        if (word_at(key + i) != word_at(low + i))
            return false;
    return true;
}

/* Whether s (n bytes) is key (n bytes, lower case) ignoring ASCII case:
 * the words words_hash_ci reads. */
static bool lower_is(const char *key, const char *s, size_t n)
{
    if (n < 8)
        return lower8(short_word(s, n)) == short_word(key, n);
    for (size_t i = 0; i < n; i = next_word(i, n))
        if (lower8(word_at(s + i)) != word_at(key + i))
            return false;
    return true;
}

/* Binary search for a literal edge (case-insensitive); returns the index or
 * the insert point negated minus one. */
static inline ptrdiff_t edge_find(const struct node *nd, const char *s, size_t n)
{
    size_t lo = 0, hi = nd->nedges;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = edge_cmp(&nd->edges[mid], s, n);
        if (c == 0)
            return (ptrdiff_t)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(ptrdiff_t)lo - 1;
}

static struct node *edge_child(struct node *nd, const char *lit, size_t len)
{
    ptrdiff_t k = edge_find(nd, lit, len);
    if (k >= 0)
        return nd->edges[k].child;
    size_t at = (size_t)(-k - 1);
    struct edge *q = grow(nd->edges, nd->nedges, &nd->capedges, 4, sizeof *q);
    if (!q)
        return NULL;
    nd->edges = q;
    struct node *child = calloc(1, sizeof *child);
    char *key = xstrndup(lit, len);
    if (!child || !key) {
        free(child);
        free(key);
        return NULL;
    }
    for (size_t i = 0; i < len; i++)
        key[i] = (char)lower((unsigned char)key[i]);
    memmove(nd->edges + at + 1, nd->edges + at, (nd->nedges - at) * sizeof *nd->edges);
    nd->edges[at] = (struct edge){key, len, words_hash_ci(key, len, NULL), child};
    nd->nedges++;
    return child;
}

/* A node with more literal edges than this also gets a hash index: a
 * binary search over many similar keys ("items1".."items999") compares
 * most of their bytes at each step. */
#define EDGE_HASH_MIN 8

/* An open-addressing index of n items by their hashes (the first at first,
 * the next stride bytes on): a table of item index + 1 (0: free) at least
 * twice as large, *mask its size - 1. NULL when out of memory (malloc'd). */
static size_t *index_by_hash(const uint64_t *first, size_t stride, size_t n, size_t *mask)
{
    size_t size = 16;
    while (size < 2 * n)
        size *= 2;
    size_t *slots = calloc(size, sizeof *slots);
    if (!slots)
        return NULL;
    *mask = size - 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t h;
        memcpy(&h, (const char *)first + i * stride, sizeof h);
        size_t j = h & *mask;
        while (slots[j])
            j = (j + 1) & *mask;
        slots[j] = i + 1;
    }
    return slots;
}

/* Builds the hash index of nd and of the nodes below it. */
static int node_index(struct node *nd)
{
    if (!nd)
        return 0;
    if (nd->nedges > EDGE_HASH_MIN &&
        !(nd->slots = index_by_hash(&nd->edges[0].hash, sizeof *nd->edges, nd->nedges,
                                    &nd->mask)))
        return -ENOMEM;
    for (size_t i = 0; i < nd->nedges; i++)
        if (node_index(nd->edges[i].child) < 0)
            return -ENOMEM;
    return node_index(nd->other);
}

/* The child of nd along the literal edge that request segment s[0..n)
 * takes, or NULL. */
static const struct node *edge_next(const struct node *nd, const char *s, size_t n)
{
    if (!nd->slots) {
        ptrdiff_t k = nd->nedges ? edge_find(nd, s, n) : -1;
        return k >= 0 ? nd->edges[k].child : NULL;
    }
    uint64_t h = words_hash_ci(s, n, NULL);
    for (size_t j = h & nd->mask; nd->slots[j]; j = (j + 1) & nd->mask) {
        const struct edge *e = &nd->edges[nd->slots[j] - 1];
        if (e->hash == h && e->len == n && lower_is(e->key, s, n))
            return e->child;
    }
    return NULL;
}

static int trie_insert(struct node *root, const fnh__route *r, size_t rank)
{
    struct node *nd = root;
    for (size_t i = 0; i < r->nseg; i++) {
        const struct segment *sg = &r->segs[i];
        if (i >= r->min_segs && push_rank(&nd->end, &nd->nend, &nd->capend, rank) < 0)
            return -ENOMEM;
        if (sg->kind == SEG_CATCHALL)
            return push_rank(&nd->tail, &nd->ntail, &nd->captail, rank);
        if (sg->kind == SEG_LIT) {
            nd = edge_child(nd, sg->parts[0].lit, sg->parts[0].litlen);
        } else {
            if (!nd->other)
                nd->other = calloc(1, sizeof *nd->other);
            nd = nd->other;
        }
        if (!nd)
            return -ENOMEM;
    }
    return push_rank(&nd->end, &nd->nend, &nd->capend, rank);
}

/* The whole-path key of route r when all its segments are literals: the
 * lower-cased segments joined by '/' (malloc'd, NUL-terminated and
 * zero-padded to 8 bytes when shorter, for words_equal; *len its length).
 * NULL when r has another kind of segment or none, or when out of memory
 * (then *oom is set). */
static char *literal_key(const fnh__route *r, size_t *len, bool *oom)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nseg; i++) {
        if (r->segs[i].kind != SEG_LIT)
            return NULL;
        n += r->segs[i].parts[0].litlen + (i > 0);
    }
    char *key = r->nseg ? calloc(n < 8 ? 8 : n + 1, 1) : NULL, *o = key;
    if (!key) {
        *oom = r->nseg > 0;
        return NULL;
    }
    for (size_t i = 0; i < r->nseg; i++) {
        const struct part *p = &r->segs[i].parts[0];
        if (i)
            *o++ = '/';
        for (size_t k = 0; k < p->litlen; k++)
            *o++ = (char)lower((unsigned char)p->lit[k]);
    }
    *len = n;
    return key;
}

/* Builds rt's table of literal routes. Out of memory it has none: the walk
 * finds them all the same (a partial table could hide a better route). A
 * key with a '%' is left out: only a path with a '%' (which the walk
 * decodes) can match its route, so no path equal to a key in the table
 * has one. */
static void literals_index(fnh__router *rt)
{
    literals_free(rt);
    bool oom = false;
    if (!(rt->lits = malloc((rt->n ? rt->n : 1) * sizeof *rt->lits)))
        return;
    for (size_t i = 0; i < rt->n && !oom; i++) {
        size_t len;
        char *key = literal_key(rt->e[i].route, &len, &oom);
        if (key && memchr(key, '%', len)) {
            free(key);
            key = NULL;
        }
        if (key)
            rt->lits[rt->nlits++] =
                (struct literal){key, len, words_hash_ci(key, len, NULL), i};
    }
    if (oom || !rt->nlits ||
        !(rt->lit_slots = index_by_hash(&rt->lits[0].hash, sizeof *rt->lits, rt->nlits,
                                        &rt->lit_mask)))
        literals_free(rt);
}

/* Sorts by precedence and builds the trie. On allocation failure the router
 * keeps working through the linear fallback in match. */
void fnh__router_finalize(fnh__router *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->n; i++)
        rt->e[i].seq = i;
    if (rt->n > 1)
        qsort(rt->e, rt->n, sizeof *rt->e, entry_cmp);
    for (size_t i = 0; i < rt->n; i++)
        rt->e[i].seq = i; /* add order no longer matters; keep seq = rank */
    node_free(rt->root);
    rt->root = calloc(1, sizeof *rt->root);
    if (!rt->root)
        return;
    for (size_t i = 0; i < rt->n; i++)
        if (trie_insert(rt->root, rt->e[i].route, i) < 0) {
            node_free(rt->root);
            rt->root = NULL;
            return;
        }
    if (node_index(rt->root) < 0) {
        node_free(rt->root);
        rt->root = NULL;
        return;
    }
    literals_index(rt);
    rt->finalized = true;
}

int fnh__router_at(const fnh__router *rt, size_t i, const fnh__route **route, unsigned *methods,
                   void **target)
{
    if (!rt || i >= rt->n)
        return 0;
    if (route)
        *route = rt->e[i].route;
    if (methods)
        *methods = rt->e[i].methods;
    if (target)
        *target = rt->e[i].target;
    return 1;
}

struct search {
    const fnh__router *rt;
    const struct req *q;
    unsigned method;
    size_t best;
    struct span *vals;
    size_t held; /* the rank whose values vals holds, or SIZE_MAX */
    size_t gave_up_rank, gave_up_param; /* after -ERANGE */
};

static inline int try_list(struct search *s, const size_t *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t rank = list[i];
        if (rank >= s->best)
            break;
        const struct entry *e = &s->rt->e[rank];
        if (!(e->methods & s->method))
            continue;
        /* the walk that led to this list has matched the literal segments
         * and the segment count: a route without parameters is a match */
        const fnh__route *r = e->route;
        s->held = SIZE_MAX;
        int rc = r->nparams ? route_values(r, s->q, s->vals, &s->gave_up_param) : 1;
        if (rc == -ERANGE)
            s->gave_up_rank = rank;
        if (rc < 0)
            return rc;
        if (rc) {
            s->best = s->held = rank;
            break;
        }
    }
    return 0;
}

/* Walks every trie path the request segments can follow (literal edge and
 * the parameter edge), trying the route lists met on the way. */
static int dfs(struct search *s, const struct node *nd, size_t i)
{
    const struct req *q = s->q;
    int rc;
    for (; i < q->nseg; i++) {
        const struct node *lit = edge_next(nd, q->dec + q->off[i], q->len[i]);
        /* deeper nodes first: they hold the more specific routes, so a match
         * there lets the catch-all lists below be skipped by rank; the last
         * way on is walked in this loop */
        if (lit && (nd->other || nd->ntail) && (rc = dfs(s, lit, i + 1)) < 0)
            return rc;
        if (nd->ntail) {
            if (nd->other && (rc = dfs(s, nd->other, i + 1)) < 0)
                return rc;
            return try_list(s, nd->tail, nd->ntail);
        }
        if (!(nd = nd->other ? nd->other : lit))
            return 0;
    }
    return try_list(s, nd->end, nd->nend);
}

/* After -ERANGE: the route and parameter whose constraint gave up. */
static void fill_gave_up(const struct entry *e, size_t param, fnh__route_match *m)
{
    m->target = e->target;
    m->route = e->route;
    m->gave_up = e->route->params[param].name;
}

/* Empties m (small is left as it is: nothing points into it then). */
static void match_reset(fnh__route_match *m)
{
    m->target = NULL;
    m->route = NULL;
    m->nparams = 0;
    m->params = NULL;
    m->gave_up = NULL;
}

void fnh__route_match_clear(fnh__route_match *m)
{
    if (!m)
        return;
    if (m->params && m->params != (fnh__route_param *)m->small) /* none for most routes */
        free(m->params);
    match_reset(m);
}

/* Copies the captured values of a winning route into m (cleared): the
 * parameter array and, after it, the values, in m->small when they fit. */
static int fill_match(const struct entry *e, const struct req *q, const struct span *vals,
                      fnh__route_match *m)
{
    const fnh__route *r = e->route;
    m->target = e->target;
    m->route = r;
    if (r->nparams == 0)
        return 1;
    size_t size = r->nparams * sizeof *m->params;
    for (size_t k = 0; k < r->nparams; k++)
        if (vals[k].st == V_PRESENT)
            size += vals[k].len + 1;
        else if (r->params[k].def)
            size += strlen(r->params[k].def) + 1;
    fnh__route_param *ps = size <= sizeof m->small ? (fnh__route_param *)m->small : malloc(size);
    if (!ps)
        return -ENOMEM;
    char *o = (char *)(ps + r->nparams);
    for (size_t k = 0; k < r->nparams; k++) {
        const struct param *p = &r->params[k];
        const char *v = p->def;
        size_t n = 0;
        if (vals[k].st == V_PRESENT) {
            v = q->dec + vals[k].off;
            n = vals[k].len;
        } else if (v) {
            n = strlen(v);
        }
        ps[k] = (fnh__route_param){p->name, v ? o : NULL};
        if (v) {
            memcpy(o, v, n);
            o[n] = 0;
            o += n + 1;
        }
    }
    m->params = ps;
    m->nparams = r->nparams;
    return 1;
}

/* Finds the best route for s's request: the trie walk, or, for a router not
 * finalized, every route tried in turn and the best kept by precedence.
 * 0, or a negative errno (-ERANGE: a constraint gave up, see s). */
static int search_routes(struct search *s)
{
    const fnh__router *rt = s->rt;
    if (rt->finalized && rt->root)
        return dfs(s, rt->root, 0);
    for (size_t i = 0; i < rt->n; i++) {
        if (!(rt->e[i].methods & s->method))
            continue;
        if (s->best != SIZE_MAX && entry_cmp(&rt->e[i], &rt->e[s->best]) >= 0)
            continue;
        s->held = SIZE_MAX;
        int rc = route_try(rt->e[i].route, s->q, s->vals, &s->gave_up_param);
        if (rc == -ERANGE)
            s->gave_up_rank = i;
        if (rc < 0)
            return rc;
        if (rc)
            s->best = s->held = i;
    }
    return 0;
}

/* The longest path (after trimming) the literal table is searched for;
 * a longer one is left to the walk, which finds literal routes too. */
#define LITERAL_MAX 256

/* The literal route for a request path (raw, len bytes) and method: 1 with
 * m filled, or 0 when there is none (the walk decides). A literal route
 * outranks every other route its path matches: at each segment a literal
 * has the lowest precedence digit, and a route with more segments loses to
 * the missing segment's 0 (entry_cmp). So of the routes whose key is the
 * path, the first by rank that takes the method wins. A path with a '%'
 * equals no key (literals_index) and is left to the walk, which decodes it
 * first. The path is lower-cased once, as it is hashed, and the keys
 * compared with that copy. */
static int literal_match(const fnh__router *rt, unsigned method, const char *path, size_t len,
                         fnh__route_match *m)
{
    trim_slashes(&path, &len); /* as req_split */
    if (len == 0 || len > LITERAL_MAX)
        return 0;
    char low[LITERAL_MAX];
    uint64_t h = words_hash_ci(path, len, low);
    const struct literal *best = NULL;
    for (size_t j = h & rt->lit_mask; rt->lit_slots[j]; j = (j + 1) & rt->lit_mask) {
        const struct literal *l = &rt->lits[rt->lit_slots[j] - 1];
        if (l->hash == h && l->len == len && (!best || l->rank < best->rank) &&
            (rt->e[l->rank].methods & method) && words_equal(l->key, low, len))
            best = l;
    }
    if (!best)
        return 0;
    m->target = rt->e[best->rank].target; /* no parameters to fill */
    m->route = rt->e[best->rank].route;
    return 1;
}

#define STACK_PATH 1024
#define STACK_SEGS 64
#define STACK_VALS 32

static int walk_match(const fnh__router *rt, unsigned method, const char *path, size_t len,
                      fnh__route_match *m);

int fnh__router_match(const fnh__router *rt, unsigned method, const char *path, size_t len,
                      fnh__route_match *m)
{
    if (m)
        match_reset(m);
    if (!rt || !m || !path || rt->n == 0)
        return 0;
    if (rt->finalized && rt->lit_slots && literal_match(rt, method, path, len, m))
        return 1;
    return walk_match(rt, method, path, len, m);
}

/* fnh__router_match past the literal table: the path split, decoded when it
 * has a '%', and searched in the trie. Not inlined: its buffers stay out of
 * the literal table's way. */
static __attribute__((noinline)) int walk_match(const fnh__router *rt, unsigned method,
                                                const char *path, size_t len,
                                                fnh__route_match *m)
{
    char sbuf[STACK_PATH];
    size_t soff[STACK_SEGS], slen[STACK_SEGS];
    struct span svals[STACK_VALS];
    char *buf = sbuf;
    size_t *off = soff, *lens = slen;
    struct span *vals = svals;
    struct req q;
    int rc = req_split(&q, path, len, off, lens, STACK_SEGS);
    if (rc < 0) {
        size_t cap = count_segs(path, len);
        off = malloc(cap * sizeof *off);
        lens = malloc(cap * sizeof *lens);
        if (!off || !lens) {
            rc = -ENOMEM;
            goto out;
        }
        rc = req_split(&q, path, len, off, lens, cap);
    }
    if (rc == 0)
        goto out;
    if (rc == 2) {
        if (q.declen > STACK_PATH && !(buf = malloc(q.declen))) {
            rc = -ENOMEM;
            goto out;
        }
        req_decode(&q, buf);
    }
    if (rt->max_params > STACK_VALS && !(vals = malloc(rt->max_params * sizeof *vals))) {
        rc = -ENOMEM;
        goto out;
    }
    struct search s = {rt, &q, method, SIZE_MAX, vals, SIZE_MAX, 0, 0};
    rc = search_routes(&s);
    if (rc < 0)
        goto out;
    if (s.best != SIZE_MAX) {
        const struct entry *e = &rt->e[s.best];
        /* when a later try overwrote the winner's values, capture them again
         * (the same checks: they pass again) */
        rc = s.held == s.best ? 1 : route_values(e->route, &q, vals, &s.gave_up_param);
        if (rc == -ERANGE)
            s.gave_up_rank = s.best;
        if (rc > 0)
            rc = fill_match(e, &q, vals, m);
    }
out:
    if (rc == -ERANGE)
        fill_gave_up(&rt->e[s.gave_up_rank], s.gave_up_param, m);
    if (buf != sbuf)
        free(buf);
    if (off != soff)
        free(off);
    if (lens != slen)
        free(lens);
    if (vals != svals)
        free(vals);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Overlaps                                                                 */
/* ------------------------------------------------------------------------ */

enum ekind { E_LIT, E_PARAM, E_COMPLEX, E_ANY };

/* What route r requires of request segment k when the request has n
 * segments (n within the route's range). */
static enum ekind elem_at(const fnh__route *r, size_t k, const struct segment **sg)
{
    if (r->catchall && k + 1 >= r->nseg) {
        *sg = &r->segs[r->nseg - 1];
        return E_ANY;
    }
    *sg = &r->segs[k];
    switch ((*sg)->kind) {
    case SEG_LIT:
        return E_LIT;
    case SEG_PARAM:
        return E_PARAM;
    case SEG_COMPLEX:
        return E_COMPLEX;
    case SEG_CATCHALL:
        break;
    }
    return E_ANY;
}

#define MAX_CANDS 48
#define CAND_LEN 96

struct cands {
    char s[MAX_CANDS][CAND_LEN];
    size_t n;
};

static void cand_add(struct cands *c, const char *s)
{
    if (c->n == MAX_CANDS || strlen(s) >= CAND_LEN || !*s)
        return;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->s[i], s) == 0)
            return;
    snprintf(c->s[c->n++], CAND_LEN, "%s", s);
}

static void cand_rep(struct cands *c, char ch, long long n)
{
    char b[CAND_LEN];
    if (n <= 0 || n >= CAND_LEN)
        return;
    memset(b, ch, (size_t)n);
    b[n] = 0;
    cand_add(c, b);
}

/* Plausible values for a parameter, from its constraints. */
static void param_samples(const struct param *p, struct cands *c)
{
    char b[64];
    if (p->def)
        cand_add(c, p->def);
    for (size_t i = 0; i < p->ncons; i++) {
        const struct cons *k = &p->cons[i];
        switch (k->kind) {
        case C_INT:
        case C_LONG:
            cand_add(c, "1");
            break;
        case C_BOOL:
            cand_add(c, "true");
            break;
        case C_DATETIME:
            cand_add(c, "2024-01-31");
            break;
        case C_DECIMAL:
        case C_DOUBLE:
        case C_FLOAT:
            cand_add(c, "1.5");
            break;
        case C_GUID:
            cand_add(c, "00000000-0000-0000-0000-000000000000");
            break;
        case C_ALPHA:
            cand_add(c, "a");
            break;
        case C_MIN:
        case C_MAX:
        case C_RANGE:
            snprintf(b, sizeof b, "%lld", k->a);
            cand_add(c, b);
            snprintf(b, sizeof b, "%lld", k->b);
            cand_add(c, b);
            break;
        case C_LENGTH:
        case C_MINLENGTH:
        case C_MAXLENGTH:
            cand_rep(c, 'a', k->a);
            cand_rep(c, '1', k->a);
            cand_rep(c, 'a', k->b);
            cand_rep(c, '1', k->b);
            break;
        case C_REGEX:
        case C_REQUIRED:
            break;
        }
    }
    cand_add(c, "x");
    cand_add(c, "1");
}

/* A sample that fills each parameter of a complex segment with the first of
 * its own samples that passes its constraints. */
static void complex_sample(const fnh__route *r, const struct segment *sg, struct cands *out)
{
    char b[CAND_LEN];
    size_t k = 0;
    b[0] = 0;
    for (size_t i = 0; i < sg->nparts; i++) {
        const struct part *p = &sg->parts[i];
        const char *v = p->lit;
        struct cands pc;
        pc.n = 0;
        if (!v) {
            param_samples(&r->params[p->param], &pc);
            v = pc.s[0];
            for (size_t j = 0; j < pc.n; j++)
                if (param_check(&r->params[p->param], pc.s[j], strlen(pc.s[j])) == 1) {
                    v = pc.s[j];
                    break;
                }
        }
        size_t l = strlen(v);
        if (k + l >= CAND_LEN)
            return;
        memcpy(b + k, v, l + 1);
        k += l;
    }
    cand_add(out, b);
}

static void elem_samples(const fnh__route *r, enum ekind ek, const struct segment *sg,
                         struct cands *c)
{
    switch (ek) {
    case E_LIT:
        cand_add(c, sg->parts[0].lit);
        break;
    case E_PARAM:
        param_samples(&r->params[sg->parts[0].param], c);
        break;
    case E_COMPLEX:
        complex_sample(r, sg, c);
        break;
    case E_ANY:
        break;
    }
}

/* Does element (r, ek, sg) accept the segment value s? */
static bool elem_accepts(const fnh__route *r, enum ekind ek, const struct segment *sg,
                         const char *s, struct span *scratch)
{
    size_t n = strlen(s);
    switch (ek) {
    case E_LIT:
        return eq_ci(s, n, sg->parts[0].lit, sg->parts[0].litlen);
    case E_PARAM:
        return param_check(&r->params[sg->parts[0].param], s, n) == 1;
    case E_COMPLEX:
        if (!complex_match(sg, s, n, 0, scratch))
            return false;
        for (size_t i = 0; i < sg->nparts; i++) {
            const struct part *p = &sg->parts[i];
            if (!p->lit && scratch[p->param].st == V_PRESENT &&
                param_check(&r->params[p->param], s + scratch[p->param].off,
                            scratch[p->param].len) != 1)
                return false;
        }
        return true;
    case E_ANY:
        return true;
    }
    return false;
}

static bool elem_has_regex(const fnh__route *r, enum ekind ek, const struct segment *sg)
{
    if (ek == E_LIT || ek == E_ANY)
        return false;
    for (size_t i = 0; i < sg->nparts; i++)
        if (!sg->parts[i].lit && r->params[sg->parts[i].param].has_regex)
            return true;
    return false;
}

/* Compares one position. Returns 1 and writes out (a segment both accept),
 * 2 if compatible but no sample was found, 0 if disjoint. */
static int pos_compat(const fnh__route *a, const fnh__route *b, size_t k, char *out,
                      struct span *sa, struct span *sb)
{
    const struct segment *ga, *gb;
    enum ekind ea = elem_at(a, k, &ga), eb = elem_at(b, k, &gb);
    if (ea == E_ANY && eb == E_ANY) {
        snprintf(out, CAND_LEN, "x");
        return 1;
    }
    struct cands c;
    c.n = 0;
    if (ea == E_LIT)
        elem_samples(a, ea, ga, &c);
    if (eb == E_LIT)
        elem_samples(b, eb, gb, &c);
    elem_samples(a, ea, ga, &c);
    elem_samples(b, eb, gb, &c);
    static const char *const generic[] = {"x", "1", "a", "true", "1.5", "2024-01-31",
                                          "00000000-0000-0000-0000-000000000000"};
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
        cand_add(&c, generic[i]);
    for (size_t i = 0; i < c.n; i++)
        if (elem_accepts(a, ea, ga, c.s[i], sa) && elem_accepts(b, eb, gb, c.s[i], sb)) {
            snprintf(out, CAND_LEN, "%s", c.s[i]);
            return 1;
        }
    if (ea == E_LIT || eb == E_LIT)
        return 0;
    if (elem_has_regex(a, ea, ga) || elem_has_regex(b, eb, gb))
        return 2;
    return 0;
}

static size_t route_max(const fnh__route *r, size_t cap)
{
    return r->catchall ? cap : r->nseg;
}

/* Appends s percent-encoded as one path segment. */
static size_t enc_seg(char *dst, const char *s)
{
    size_t k = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch <= 0x20 || ch >= 0x7f || ch == '/' || ch == '%' || ch == '?' || ch == '#') {
            static const char hx[] = "0123456789ABCDEF";
            if (dst) {
                dst[k] = '%';
                dst[k + 1] = hx[ch >> 4];
                dst[k + 2] = hx[ch & 15];
            }
            k += 3;
        } else {
            if (dst)
                dst[k] = (char)ch;
            k++;
        }
    }
    return k;
}

static bool route_matches_path(const fnh__route *r, const char *path, struct span *vals)
{
    size_t len = strlen(path);
    size_t cap = count_segs(path, len);
    char *buf = malloc(len + 1);
    size_t *off = malloc(cap * sizeof *off), *lens = malloc(cap * sizeof *lens);
    bool ok = false;
    struct req q;
    int rc = buf && off && lens ? req_split(&q, path, len, off, lens, cap) : 0;
    if (rc == 2)
        req_decode(&q, buf);
    if (rc > 0)
        ok = route_try(r, &q, vals, &(size_t){0}) == 1;
    free(buf);
    free(off);
    free(lens);
    return ok;
}

/* Decides whether routes a and b can match one path. Returns 0 (no), 1 with
 * a malloc'd example in *ex (or NULL when none could be built). */
static int pair_overlap(const fnh__route *a, const fnh__route *b, struct span *sa,
                        struct span *sb, char **ex)
{
    *ex = NULL;
    size_t cap = (a->nseg > b->nseg ? a->nseg : b->nseg) + 1;
    size_t lo = a->min_segs > b->min_segs ? a->min_segs : b->min_segs;
    size_t ha = route_max(a, cap), hb = route_max(b, cap);
    size_t hi = ha < hb ? ha : hb;
    bool any = false;
    /* cheap pass first: a literal against a literal at the same position */
    for (size_t k = 0; k < hi; k++) {
        const struct segment *ga, *gb;
        if (elem_at(a, k, &ga) == E_LIT && elem_at(b, k, &gb) == E_LIT &&
            !eq_ci(ga->parts[0].lit, ga->parts[0].litlen, gb->parts[0].lit, gb->parts[0].litlen)) {
            if (k < lo)
                return 0; /* every candidate length has this position */
            hi = k;       /* longer requests are impossible */
            break;
        }
    }
    char (*segs)[CAND_LEN] = malloc(cap * sizeof *segs);
    if (!segs)
        return 1; /* be conservative */
    for (size_t n = lo; n <= hi; n++) {
        bool full = true, ok = true;
        for (size_t k = 0; k < n && ok; k++) {
            int c = pos_compat(a, b, k, segs[k], sa, sb);
            if (c == 0)
                ok = false;
            else if (c == 2)
                full = false;
        }
        if (!ok)
            continue;
        any = true;
        if (!full)
            continue;
        size_t tot = 2;
        for (size_t k = 0; k < n; k++)
            tot += enc_seg(NULL, segs[k]) + 1;
        char *p = malloc(tot + 1);
        if (!p)
            continue;
        size_t o = 0;
        p[o++] = '/';
        for (size_t k = 0; k < n; k++) {
            if (k)
                p[o++] = '/';
            o += enc_seg(p + o, segs[k]);
        }
        p[o] = 0;
        if (route_matches_path(a, p, sa) && route_matches_path(b, p, sb)) {
            memmove(p, p + 1, o); /* "items/recent" without the leading '/'; "" = root */
            *ex = p;
            break;
        }
        free(p);
    }
    free(segs);
    return any;
}

/* A route's literal key: its leading whole-literal segments that every path
 * it matches has (positions below min_segs). Two routes whose keys differ at
 * a position both keys have never match one path (pair_overlap's cheap
 * pass rejects them), so only a route and those whose keys extend its own
 * need comparing. */
struct keyed {
    const fnh__route *r;
    size_t len; /* segments in the key */
};

static size_t key_len(const fnh__route *r)
{
    size_t k = 0;
    const struct segment *sg;
    while (k < r->min_segs && elem_at(r, k, &sg) == E_LIT)
        k++;
    return k;
}

/* Case-insensitive order of two literal segments. */
static int seg_cmp(const struct segment *a, const struct segment *b)
{
    const struct part *x = &a->parts[0], *y = &b->parts[0];
    size_t n = x->litlen < y->litlen ? x->litlen : y->litlen;
    for (size_t i = 0; i < n; i++) {
        int c = lower((unsigned char)x->lit[i]) - lower((unsigned char)y->lit[i]);
        if (c)
            return c;
    }
    return (x->litlen > y->litlen) - (x->litlen < y->litlen);
}

/* Keys segment by segment; a key sorts before the keys it is a prefix of. */
static int key_cmp(const void *pa, const void *pb)
{
    const struct keyed *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    for (size_t k = 0; k < n; k++) {
        int c = seg_cmp(&a->r->segs[k], &b->r->segs[k]);
        if (c)
            return c;
    }
    return (a->len > b->len) - (a->len < b->len);
}

/* 1 when a's key is a prefix of b's (or equal). */
static int key_prefix(const struct keyed *a, const struct keyed *b)
{
    if (a->len > b->len)
        return 0;
    for (size_t k = 0; k < a->len; k++)
        if (seg_cmp(&a->r->segs[k], &b->r->segs[k]))
            return 0;
    return 1;
}

/* An entry's key and its index in the router. */
struct ranked {
    struct keyed k; /* first: key_cmp orders these */
    size_t i;
};

/* For each entry, its rank in key order (rank) and, by rank, the end of the
 * run of ranks whose keys its key prefixes (until). 0, or -ENOMEM. */
static int key_ranks(const fnh__router *rt, size_t *rank, size_t *until)
{
    struct ranked *rk = malloc(rt->n * sizeof *rk);
    if (!rk)
        return -ENOMEM;
    for (size_t i = 0; i < rt->n; i++)
        rk[i] = (struct ranked){{rt->e[i].route, key_len(rt->e[i].route)}, i};
    qsort(rk, rt->n, sizeof *rk, key_cmp);
    for (size_t r = 0; r < rt->n; r++)
        rank[rk[r].i] = r;
    for (size_t r = 0; r < rt->n; r++) {
        size_t s = r + 1;
        while (s < rt->n && key_prefix(&rk[r].k, &rk[s].k))
            s++;
        until[r] = s;
    }
    free(rk);
    return 0;
}

void fnh__router_overlaps(const fnh__router *rt,
                          void (*cb)(void *a, void *b, const char *example, void *arg), void *arg)
{
    if (!rt || !cb || rt->n < 2)
        return;
    size_t nv = rt->max_params ? rt->max_params : 1;
    struct span *sa = calloc(nv, sizeof *sa), *sb = calloc(nv, sizeof *sb);
    size_t *rank = malloc(rt->n * sizeof *rank), *until = malloc(rt->n * sizeof *until);
    int keyed = rank && until && key_ranks(rt, rank, until) == 0;
    if (!sa || !sb)
        goto out;
    for (size_t i = 0; i < rt->n; i++)
        for (size_t j = i + 1; j < rt->n; j++) {
            const struct entry *x = &rt->e[i], *y = &rt->e[j];
            if (!(x->methods & y->methods))
                continue;
            if (keyed && (rank[i] < rank[j] ? rank[j] >= until[rank[i]]
                                            : rank[i] >= until[rank[j]]))
                continue; /* their keys differ: no path matches both */
            char *ex = NULL;
            if (pair_overlap(x->route, y->route, sa, sb, &ex))
                cb(x->target, y->target, ex, arg);
            free(ex);
        }
out:
    free(rank);
    free(until);
    free(sa);
    free(sb);
}
