/* Optional accelerator for watch_pandas._rows: scan one batch of result rows
 * ("[{...}, {...}]", the JSON objects of a Redash result's data.rows) straight into
 * column buffers that Arrow wraps without copying.
 *
 * It handles the common, simple layout only and answers None for anything else (nested
 * values, keys it does not know, duplicate keys, integers in a float column that a double
 * cannot hold, lone surrogates, invalid JSON, ...): the caller then decodes the batch the
 * careful msgspec way, so every answer it gives equals what that path gives, and the
 * questions of what an odd value means stay in one place (Python).
 *
 * scan_rows(batch, names, kinds) -> (n_rows, [column, ...]) | None
 *   batch  a bytes-like object holding the JSON array of row objects
 *   names  tuple of bytes: each column's key as it appears between the quotes
 *   kinds  bytes, one letter per column:
 *          'i' integer  -> (validity | None, int64 data, null_count), or a list of
 *                          int | None when a value does not fit in int64
 *          'f' float    -> (validity | None, float64 data, null_count)
 *          'b' boolean  -> (validity | None, bit-packed data, null_count)
 *          's' text     -> (validity | None, int32 offsets, UTF-8 data, null_count)
 *          'd' date     -> a letter first: (b'd', validity | None, int32 days since 1970,
 *                          null_count) when every value is written YYYY-MM-DD; (b'n',
 *                          null_count) when every value is null; else (b's', ...) the text
 *          't' datetime -> likewise: (b't', validity | None, int64 ms since 1970 in UTC,
 *                          null_count, layout) when every value is written the same way
 *                          (see parse_stamp: the layout says how, so the text can be
 *                          written again exactly by temporal_text), else b'n' or b's'
 *          'A' untyped, text read as dates or datetimes where it can be: as 'a', and when
 *                          every value is a string that 'd' or 't' would read (one layout),
 *                          their answer (b'd', ...) or (b't', ...)
 *          'a' untyped  -> when the batch's values are of one kind (nulls aside), that
 *                          kind's letter first and its buffers as above: (b'i'|b'f', validity
 *                          | None, data, null_count), (b'b', validity | None, bits,
 *                          null_count), (b's', validity | None, offsets, data, null_count),
 *                          or (b'n', null_count) when every value is null; (b'I', list) when
 *                          every value is an int (or None), some beyond int64; otherwise a
 *                          list of None, bool, int, float and str
 *   Bitmaps are Arrow's (least significant bit first).
 *
 * temporal_text(values, validity, n, layout) -> (int32 offsets, UTF-8 data)
 *   the text a 'd' (layout b"d") or 't' answer was read from, written again
 *
 * The scan itself runs without the GIL and touches no Python object; what needs Python
 * (floats off the exact fast path, integers beyond int64, untyped cells) is converted after.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __FAST_MATH__
#error "-ffast-math changes float results and drops the infinity checks; build without it"
#endif

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define EXACT_FAST_FLOATS 1 /* one double operation rounds once: Clinger's fast path holds */
#else
#define EXACT_FAST_FLOATS 0
#endif

#define MAX_TOKEN 511          /* longer numbers go to the careful path */
#define MAX_INT_DIGITS 4000    /* below Python's int/str conversion limit (4300) */
#define LAYOUT_MAX 8           /* separator, seconds' digits and a zone ("Z", "+05:30") */

typedef struct {
    char *data;
    Py_ssize_t len, cap;
} Bytes;

typedef union {
    int64_t i;
    double d;
} Value;

/* What an untyped ('a') cell holds; strings and the tokens of numbers that need Python to
 * convert them (beyond int64, or a float off the fast path) are kept in the column's chars,
 * integers of up to 38 digits (T_WIDE) as their 16 bytes there, read during the scan. */
enum { T_NULL, T_TRUE, T_FALSE, T_INT, T_FLOAT, T_STR, T_BIG, T_SLOW, T_WIDE };

typedef struct {
    char kind;        /* as asked, or 's' once a date or datetime column goes on as text */
    char asked;
    const char *name;
    Py_ssize_t name_len;
    Py_ssize_t seen_row;
    Py_ssize_t nulls;
    int overflow;     /* an integer column met a value beyond int64 */
    char as;          /* untyped: the one kind of the batch's values ('i', 'f', 'b', 's', 'n') */
    char layout[LAYOUT_MAX]; /* datetime: how the batch's values are written (parse_stamp) */
    int layout_len;          /* 0 until the first value */
    int zero_fraction;       /* a ".000" came (the batch cannot be written as Redash does) */
    int untyped_temporal;    /* 'A': an untyped column of text may be dates or datetimes */
    int plain_name;          /* the name holds no byte a JSON string must escape */
    uint8_t *valid;   /* validity bitmap */
    void *values;     /* int64 / double / bit-packed bools / Value (untyped) */
    uint8_t *tags;    /* untyped: T_* per row */
    int32_t *offsets; /* text and untyped: n + 1 offsets into chars */
    Bytes chars;
    PyObject *objects; /* the list answered for untyped columns and overflowing integers */
} Column;

/* A value the scan (without the GIL) leaves for Python to convert: a float token off the
 * fast path, or an integer beyond int64; both point into the batch. */
typedef struct {
    Py_ssize_t col, row;
    const char *token;
    Py_ssize_t len;
#ifdef __SIZEOF_INT128__
    int wide;         /* an integer read into `value` during the scan */
    __int128 value;
#endif
} Pending;

typedef struct {
    const char *p, *end;
    const char *start; /* the batch's first byte */
    Column *cols;
    Py_ssize_t ncols, rows, cap;
    Pending *pending;
    Py_ssize_t npending, pending_cap;
    Bytes key; /* an escaped key, unescaped ("prix \u20ac" from an ensure_ascii server) */
} Scan;

/* FAIL: a Python exception is set; NOMEM: out of memory while the GIL was released (the
 * exception is set once it is held again); DEFER: a number for Python to convert. */
enum { OK = 0, BAIL = 1, NOMEM = 2, DEFER = 3, FAIL = -1 };

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* ------------------------------------------------------------------ small helpers */

static int bytes_reserve(Bytes *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap)
        return OK;
    Py_ssize_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) {
        if (cap > PY_SSIZE_T_MAX / 2)
            return BAIL;
        cap *= 2;
    }
    char *data = realloc(b->data, (size_t)cap);
    if (!data)
        return NOMEM;
    b->data = data;
    b->cap = cap;
    return OK;
}

static inline int bytes_add(Bytes *b, const char *s, Py_ssize_t n) {
    if (n == 0)
        return OK;
    int rc = bytes_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->data + b->len, s, (size_t)n);
    b->len += n;
    return OK;
}

/* Byte classes, one table look-up per byte in the hot loops: JSON whitespace; a byte that
 * ends a plain run of string text (quote, backslash, control character); a byte that starts a
 * multi-byte UTF-8 sequence (checked before it is copied). */
enum { C_WS = 1, C_STOP = 2, C_HIGH = 4 };
static uint8_t byte_class[256]; /* filled once, when the module is imported */

static void init_byte_class(void) {
    for (int c = 0; c < 0x20; c++)
        byte_class[c] = C_STOP;
    for (int c = 0x80; c < 0x100; c++)
        byte_class[c] = C_HIGH;
    byte_class['"'] = byte_class['\\'] = C_STOP;
    byte_class[' '] = C_WS;
    byte_class['\t'] = byte_class['\n'] = byte_class['\r'] = C_STOP | C_WS;
}

static inline void skip_ws(Scan *s) {
    while (s->p < s->end && (byte_class[(unsigned char)*s->p] & C_WS))
        s->p++;
}

static inline int peek(Scan *s) { return s->p < s->end ? (unsigned char)*s->p : -1; }

static inline void set_bit(uint8_t *bits, Py_ssize_t i) { bits[i >> 3] |= (uint8_t)(1u << (i & 7)); }

/* After an object's or array's item: 1 when a "," leads to another, 0 at `close` (left in
 * place), -1 for anything else. */
static int after_item(Scan *s, int close) {
    skip_ws(s);
    if (peek(s) == ',') {
        s->p++;
        skip_ws(s);
        return 1;
    }
    return peek(s) == close ? 0 : -1;
}

static int literal(Scan *s, const char *word, Py_ssize_t n) {
    if (s->end - s->p < n || memcmp(s->p, word, (size_t)n) != 0)
        return BAIL;
    s->p += n;
    return OK;
}

/* The whole batch's rows (or text bytes), extrapolated from the `so_far` counted in the bytes
 * read until now, plus 5 %: each buffer then grows once, where doubling would realloc it
 * several times (each a copy into new memory, and a page fault every 4 kB). */
static Py_ssize_t whole_batch(const Scan *s, Py_ssize_t so_far) {
    Py_ssize_t read = s->p - s->start, total = s->end - s->start;
    if (read <= 0 || so_far <= 0)
        return 0;
    double expected = (double)so_far * ((double)total / (double)read) * 1.05 + 64;
    return expected < (double)(INT32_MAX / 8) ? (Py_ssize_t)expected : INT32_MAX / 8;
}

/* Grow every column's per-row buffers to hold at least `need` rows: 1024 at first, then
 * room for the whole batch as its first rows foretell it (text columns' bytes too). */
static int reserve_rows(Scan *s, Py_ssize_t need) {
    if (need <= s->cap)
        return OK;
    Py_ssize_t cap = s->cap ? s->cap * 2 : 1024;
    Py_ssize_t expected = s->cap ? whole_batch(s, s->rows) : 0;
    if (cap < expected)
        cap = expected;
    while (cap < need)
        cap *= 2;
    if (cap > INT32_MAX / 8)
        return BAIL;
    if (expected)
        for (Py_ssize_t c = 0; c < s->ncols; c++) {
            Bytes *chars = &s->cols[c].chars;
            Py_ssize_t more = whole_batch(s, chars->len) - chars->len;
            if (chars->len && more > 0 && bytes_reserve(chars, more) == NOMEM)
                return NOMEM;
        }
    size_t old_bits = (size_t)(s->cap + 7) / 8, new_bits = (size_t)(cap + 7) / 8;
    for (Py_ssize_t c = 0; c < s->ncols; c++) {
        Column *col = &s->cols[c];
        uint8_t *valid = realloc(col->valid, new_bits);
        if (!valid)
            return NOMEM;
        memset(valid + old_bits, 0, new_bits - old_bits);
        col->valid = valid;
        if (col->kind == 'i' || col->kind == 'f' || col->kind == 'd' || col->kind == 't') {
            void *values = realloc(col->values, (size_t)cap * 8);
            if (!values)
                return NOMEM;
            col->values = values;
        } else if (col->kind == 'b') {
            uint8_t *values = realloc(col->values, new_bits);
            if (!values)
                return NOMEM;
            memset(values + old_bits, 0, new_bits - old_bits);
            col->values = values;
        }
        if (col->kind == 'a') {
            Value *values = realloc(col->values, (size_t)cap * sizeof(Value));
            if (!values)
                return NOMEM;
            col->values = values;
            uint8_t *tags = realloc(col->tags, (size_t)cap);
            if (!tags)
                return NOMEM;
            col->tags = tags;
        }
        if (col->kind == 's' || col->kind == 'a') {
            int32_t *offsets = realloc(col->offsets, (size_t)(cap + 1) * sizeof(int32_t));
            if (!offsets)
                return NOMEM;
            if (!col->offsets)
                offsets[0] = 0;
            col->offsets = offsets;
        }
    }
    s->cap = cap;
    return OK;
}

/* ------------------------------------------------------------------ strings */

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0. */
static Py_ssize_t utf8_sequence(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    Py_ssize_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F; /* no UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (end - p < n || p[1] < lo || p[1] > hi)
        return 0;
    for (Py_ssize_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return BAIL;
    }
    *out = v;
    return OK;
}

static int add_code_point(Bytes *out, unsigned cp) {
    char u[4];
    Py_ssize_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return bytes_add(out, u, n);
}

/* The JSON string at s->p (its opening quote), unescaped and appended to out as UTF-8. */
static int scan_string(Scan *s, Bytes *out) {
    const char *p = s->p + 1, *end = s->end;
    int rc;
    for (;;) {
        const char *run = p;
        while (p < end) {
            uint8_t cls = byte_class[(unsigned char)*p] & (C_STOP | C_HIGH);
            if (!cls) { /* plain ASCII text: the usual byte */
                p++;
                continue;
            }
            if (cls & C_STOP)
                break;
            Py_ssize_t n = utf8_sequence((const unsigned char *)p, (const unsigned char *)end);
            if (!n)
                return BAIL;
            p += n;
        }
        if ((rc = bytes_add(out, run, p - run)))
            return rc;
        if (p >= end || (unsigned char)*p < 0x20)
            return BAIL;
        if (*p == '"') {
            s->p = p + 1;
            return OK;
        }
        if (end - p < 2)
            return BAIL;
        char e = p[1], c;
        p += 2;
        switch (e) {
        case '"': c = '"'; break;
        case '\\': c = '\\'; break;
        case '/': c = '/'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u': {
            unsigned cp, low;
            if (end - p < 4 || hex4(p, &cp))
                return BAIL;
            p += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return BAIL; /* a lone low surrogate */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &low) ||
                    low < 0xDC00 || low > 0xDFFF)
                    return BAIL; /* a lone high surrogate */
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            if ((rc = add_code_point(out, cp)))
                return rc;
            continue;
        }
        default:
            return BAIL;
        }
        if ((rc = bytes_add(out, &c, 1)))
            return rc;
    }
}

/* ------------------------------------------------------------------ numbers */

typedef struct {
    const char *start;
    Py_ssize_t len;
    int negative, is_float;
    int fits;          /* an integer token within int64 */
    int64_t value;     /* when fits */
} Number;

/* Check the JSON number grammar at s->p; for integers, their value when it fits int64. */
static int scan_number(Scan *s, Number *num) {
    const char *p = s->p, *end = s->end;
    num->start = p;
    num->negative = p < end && *p == '-';
    num->is_float = 0;
    if (num->negative)
        p++;
    if (p >= end)
        return BAIL;
    const char *digits = p;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    else
        return BAIL;
    Py_ssize_t ndigits = p - digits;
    if (p < end && *p == '.') {
        num->is_float = 1;
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return BAIL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        num->is_float = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return BAIL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p >= end)
        return BAIL; /* a number must be followed by "," "}" or white space */
    num->len = p - num->start;
    num->fits = 0;
    if (!num->is_float && ndigits <= 19) {
        uint64_t v = 0;
        for (Py_ssize_t i = 0; i < ndigits; i++)
            v = v * 10 + (uint64_t)(digits[i] - '0'); /* 19 digits < 2**64 */
        if (num->negative ? v <= (uint64_t)INT64_MAX + 1 : v <= (uint64_t)INT64_MAX) {
            num->fits = 1;
            num->value = num->negative ? (int64_t)(0 - v) : (int64_t)v;
        }
    }
    s->p = p;
    return OK;
}

/* The double of a float token (grammar checked) when Clinger's fast path gives it exactly
 * rounded: a mantissa below 2**53 times or over an exact power of ten <= 1e22 is one
 * correctly rounded operation. Otherwise DEFER: Python's own conversion decides. */
static int fast_double(const Number *num, double *out) {
#if EXACT_FAST_FLOATS
    const char *p = num->start + num->negative, *end = num->start + num->len;
    uint64_t w = 0;
    int significant = 0, started = 0;
    long exponent = 0;
    for (; p < end && *p != 'e' && *p != 'E'; p++) {
        if (*p == '.') {
            for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
                if (*p != '0' || started) {
                    started = 1;
                    if (++significant > 15)
                        return DEFER;
                    w = w * 10 + (uint64_t)(*p - '0');
                }
                exponent--;
            }
            break;
        }
        if (*p != '0' || started) {
            started = 1;
            if (++significant > 15)
                return DEFER;
            w = w * 10 + (uint64_t)(*p - '0');
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        int sign = 1;
        long e = 0;
        p++;
        if (*p == '+' || *p == '-')
            sign = *p++ == '-' ? -1 : 1;
        for (int n = 0; p < end; p++, n++) {
            if (n >= 5)
                return DEFER;
            e = e * 10 + (*p - '0');
        }
        exponent += sign * e;
    }
    if (exponent >= -22 && exponent <= 22) {
        double d = (double)w;
        d = exponent >= 0 ? d * POW10[exponent] : d / POW10[-exponent];
        *out = num->negative ? -d : d;
        return OK;
    }
#else
    (void)num;
    (void)out;
#endif
    return DEFER;
}

#ifdef __SIZEOF_INT128__
/* Without the GIL: the value of an integer token (a valid JSON integer) of up to 38 digits
 * (wei amounts and the like) in 128 bits; 0 for a longer one. */
static int token_to_int128(const char *start, Py_ssize_t len, __int128 *out) {
    Py_ssize_t negative = len > 0 && start[0] == '-';
    Py_ssize_t digits = len - negative;
    if (digits > 38)
        return 0;
    /* the leading digits, then the last 19 (at most), each in 64 bits: one wide multiply */
    Py_ssize_t low_digits = digits < 19 ? digits : 19, i = negative;
    uint64_t high = 0, low = 0, scale = 1;
    for (; i < len - low_digits; i++)
        high = high * 10 + (uint64_t)(start[i] - '0');
    for (; i < len; i++) {
        low = low * 10 + (uint64_t)(start[i] - '0');
        scale *= 10;
    }
    unsigned __int128 v = (unsigned __int128)high * scale + low;
    *out = negative ? -(__int128)v : (__int128)v; /* 38 digits < 2**127 */
    return 1;
}
#endif

static int add_pending(Scan *s, Column *col, Py_ssize_t row, const Number *num) {
    if (s->npending == s->pending_cap) {
        Py_ssize_t cap = s->pending_cap ? s->pending_cap * 2 : 64;
        Pending *pending = realloc(s->pending, (size_t)cap * sizeof(Pending));
        if (!pending)
            return NOMEM;
        s->pending = pending;
        s->pending_cap = cap;
    }
    Pending *p = &s->pending[s->npending++];
    *p = (Pending){.col = col - s->cols, .row = row, .token = num->start, .len = num->len};
#ifdef __SIZEOF_INT128__
    p->wide = col->kind == 'i' && token_to_int128(num->start, num->len, &p->value);
#endif
    return OK;
}

/* With the GIL: the double Python reads from a float token. */
static int token_to_double(const char *start, Py_ssize_t len, double *out) {
    char token[MAX_TOKEN + 1];
    char *stop = NULL;
    if (len > MAX_TOKEN)
        return BAIL;
    memcpy(token, start, (size_t)len);
    token[len] = '\0';
    double d = PyOS_string_to_double(token, &stop, NULL);
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return BAIL;
    }
    if (stop != token + len || isinf(d) || isnan(d))
        return BAIL; /* (1e400: msgspec's path judges it) */
    *out = d;
    return OK;
}

#ifdef __SIZEOF_INT128__
/* With the GIL: the Python int of a 128-bit value, handed over as bytes (a fraction of the
 * cost of Python's decimal conversion). */
static PyObject *int128_to_long(__int128 value) {
#if PY_VERSION_HEX >= 0x030D0000
    return PyLong_FromNativeBytes(&value, sizeof value, -1);
#else
    return _PyLong_FromByteArray((const unsigned char *)&value, sizeof value, PY_LITTLE_ENDIAN,
                                 1);
#endif
}
#endif

/* With the GIL: a Python int from an integer token (a valid JSON integer), by way of 128
 * bits when it has up to 38 digits, else Python's decimal conversion. */
static PyObject *token_to_long(const char *start, Py_ssize_t len) {
#ifdef __SIZEOF_INT128__
    __int128 wide;
    if (token_to_int128(start, len, &wide))
        return int128_to_long(wide);
#endif
    char *token = PyMem_Malloc((size_t)len + 1);
    if (!token)
        return PyErr_NoMemory();
    memcpy(token, start, (size_t)len);
    token[len] = '\0';
    PyObject *value = PyLong_FromString(token, NULL, 10);
    PyMem_Free(token);
    return value;
}

/* ------------------------------------------------------------------ values (no GIL) */

static inline int end_text(Column *col, Py_ssize_t row) {
    if (col->chars.len > INT32_MAX)
        return BAIL;
    col->offsets[row + 1] = (int32_t)col->chars.len;
    return OK;
}

/* ------------------------------------------------------------------ dates and datetimes */

/* Days since 1970-01-01 of a day of the proleptic Gregorian calendar (the civil-from-days
 * arithmetic of 400-year eras, each 146097 days long, years counted from March). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t year_of_era = y - era * 400;
    int64_t day_of_year = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t day_of_era = z - era * 146097;
    int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t mp = (5 * day_of_year + 2) / 153;
    *d = (int)(day_of_year - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(year_of_era + era * 400 + (*m <= 2));
}

static inline int decimal(char c) { return c >= '0' && c <= '9' ? c - '0' : -1; }

/* n decimal digits at p, or -1. */
static inline int digits(const char *p, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        int x = decimal(p[i]);
        if (x < 0)
            return -1;
        v = v * 10 + x;
    }
    return v;
}

/* "YYYY-MM-DD" (years 0001-9999, a real day) at p: its days since 1970, 0 when it is one. */
static int parse_day(const char *p, int64_t *days) {
    int y = digits(p, 4), m = digits(p + 5, 2), d = digits(p + 8, 2);
    if (y < 1 || m < 1 || m > 12 || d < 1 || p[4] != '-' || p[7] != '-')
        return BAIL;
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    if (d > month_days[m - 1] + (m == 2 && leap))
        return BAIL;
    *days = days_from_civil(y, m, d);
    return OK;
}

/* A datetime written "YYYY-MM-DD" "T"|" " "hh:mm", then ":ss" and "." with 1-3 digits if
 * any, then nothing, "Z" or "+hh:mm"/"-hh:mm": its milliseconds since 1970 in UTC, and its
 * layout: the separator, a digit for what follows the minutes (0 nothing, 1 ":ss", 2-4
 * ":ss." and 1-3 digits), then the zone as written. Anything else is BAIL: such text is left
 * for Arrow's parser and the column's rules (see _decode/_dtypes.py), which read the values
 * taken here to the same instants. */
static int parse_stamp(const char *p, Py_ssize_t len, int64_t *ms, char *layout, int *layout_len) {
    int64_t days;
    if (len < 16 || len > 29 || parse_day(p, &days) || (p[10] != 'T' && p[10] != ' ') ||
        p[13] != ':')
        return BAIL;
    int hh = digits(p + 11, 2), mm = digits(p + 14, 2), ss = 0, frac = 0, tail = 0;
    Py_ssize_t i = 16;
    if (hh < 0 || hh > 23 || mm < 0 || mm > 59)
        return BAIL;
    if (i < len && p[i] == ':') {
        if (len - i < 3 || (ss = digits(p + i + 1, 2)) < 0 || ss > 59)
            return BAIL;
        i += 3;
        tail = 1;
        if (i < len && p[i] == '.') {
            i++;
            int n = 0;
            while (i < len && n < 4 && decimal(p[i]) >= 0)
                frac = frac * 10 + decimal(p[i++]), n++;
            if (n == 0 || n > 3)
                return BAIL; /* finer than milliseconds: the careful path picks the unit */
            for (int k = n; k < 3; k++)
                frac *= 10;
            tail = 1 + n;
        }
    }
    int offset = 0; /* minutes east of UTC */
    Py_ssize_t zone = len - i;
    if (zone == 1 && p[i] == 'Z')
        ;
    else if (zone == 6 && (p[i] == '+' || p[i] == '-') && p[i + 3] == ':') {
        int oh = digits(p + i + 1, 2), om = digits(p + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return BAIL;
        offset = (p[i] == '-' ? -1 : 1) * (oh * 60 + om);
    } else if (zone != 0)
        return BAIL;
    layout[0] = p[10];
    layout[1] = (char)('0' + tail);
    memcpy(layout + 2, p + i, (size_t)zone);
    *layout_len = 2 + (int)zone;
    *ms = ((days * 86400 + hh * 3600 + mm * 60 + ss) - (int64_t)offset * 60) * 1000 + frac;
    return OK;
}

/* Whether a value of `layout` (milliseconds `ms`) fits the batch's layout so far, which it
 * may widen: Redash writes ":ss" when the millisecond is zero and ":ss.fff" otherwise, so a
 * batch of both is written again by that rule (digit 5) as long as no ".000" came. */
static int same_layout(Column *col, const char *layout, int layout_len, int64_t ms) {
    if (layout_len != col->layout_len || layout[0] != col->layout[0] ||
        memcmp(layout + 2, col->layout + 2, (size_t)layout_len - 2) != 0)
        return 0;
    char mine = layout[1], theirs = col->layout[1];
    int zero_ms = ms % 1000 == 0;
    if (mine == '4' && zero_ms)
        col->zero_fraction = 1;
    if (mine == theirs) /* (a value's own digit is never 5) */
        return 1;
    if (theirs == '5')
        return mine == '1' || (mine == '4' && !zero_ms);
    if ((theirs == '1' && mine == '4' && !zero_ms) ||
        (theirs == '4' && mine == '1' && !col->zero_fraction)) {
        col->layout[1] = '5';
        return 1;
    }
    return 0;
}

/* The text of one value of a 'd' (layout "d") or 't' answer, as it was written. */
static int format_temporal(Bytes *out, int64_t value, const char *layout, Py_ssize_t layout_len) {
    char text[40];
    int y, m, d, n;
    if (layout_len == 1 && layout[0] == 'd') {
        civil_from_days(value, &y, &m, &d);
        n = snprintf(text, sizeof text, "%04d-%02d-%02d", y, m, d);
        return bytes_add(out, text, n);
    }
    if (layout_len < 2 || layout_len > LAYOUT_MAX)
        return BAIL;
    const char *zone = layout + 2;
    Py_ssize_t zone_len = layout_len - 2;
    int64_t local = value;
    if (zone_len == 6) {
        int offset = (decimal(zone[1]) * 10 + decimal(zone[2])) * 60 + decimal(zone[4]) * 10 +
                     decimal(zone[5]);
        local += (zone[0] == '-' ? -1 : 1) * (int64_t)offset * 60000;
    }
    int64_t days = local >= 0 ? local / 86400000 : -((-local + 86399999) / 86400000);
    int64_t in_day = local - days * 86400000;
    civil_from_days(days, &y, &m, &d);
    int tail = layout[1] - '0', millis_digits = tail - 1;
    if (tail == 5) /* ":ss", and ".fff" when the millisecond is not zero */
        millis_digits = in_day % 1000 ? 3 : 0;
    n = snprintf(text, sizeof text, "%04d-%02d-%02d%c%02d:%02d", y, m, d, layout[0],
                 (int)(in_day / 3600000), (int)(in_day / 60000 % 60));
    if (tail >= 1)
        n += snprintf(text + n, sizeof text - (size_t)n, ":%02d", (int)(in_day / 1000 % 60));
    if (millis_digits > 0) {
        char millis[8];
        snprintf(millis, sizeof millis, "%03d", (int)(in_day % 1000));
        n += snprintf(text + n, sizeof text - (size_t)n, ".%.*s", millis_digits, millis);
    }
    int rc = bytes_add(out, text, n);
    return rc ? rc : bytes_add(out, zone, zone_len);
}

/* A date or datetime column meets a value it does not read (or, for datetimes, one written
 * another way): the rows so far become their text again, and the batch goes on as text. */
static int temporal_to_text(Scan *s, Column *col, Py_ssize_t row) {
    int32_t *offsets = malloc((size_t)(s->cap + 1) * sizeof(int32_t));
    int rc;
    if (!offsets)
        return NOMEM;
    offsets[0] = 0;
    col->offsets = offsets;
    const char *layout = col->kind == 'd' ? "d" : col->layout;
    Py_ssize_t layout_len = col->kind == 'd' ? 1 : col->layout_len;
    for (Py_ssize_t r = 0; r < row; r++) {
        if ((col->valid[r >> 3] >> (r & 7)) & 1) {
            int64_t v = col->kind == 'd' ? ((int32_t *)col->values)[r] : ((int64_t *)col->values)[r];
            if ((rc = format_temporal(&col->chars, v, layout, layout_len)))
                return rc;
        }
        if ((rc = end_text(col, r)))
            return rc;
    }
    free(col->values);
    col->values = NULL;
    col->kind = 's';
    return OK;
}

/* A value of a date or datetime column: read into its number where it can be. */
static int temporal_value(Scan *s, Column *col, Py_ssize_t row) {
    if (peek(s) != '"')
        return BAIL;
    const char *text = s->p + 1;
    Py_ssize_t room = s->end - text < 32 ? s->end - text : 32;
    const char *quote = memchr(text, '"', (size_t)(room > 0 ? room : 0));
    if (quote) {
        Py_ssize_t len = quote - text;
        int64_t v;
        if (col->kind == 'd' && len == 10 && parse_day(text, &v) == OK) {
            ((int32_t *)col->values)[row] = (int32_t)v;
            s->p = quote + 1;
            return OK;
        }
        char layout[LAYOUT_MAX];
        int layout_len;
        if (col->kind == 't' && parse_stamp(text, len, &v, layout, &layout_len) == OK) {
            if (!col->layout_len) {
                memcpy(col->layout, layout, (size_t)layout_len);
                col->layout_len = layout_len;
                col->zero_fraction = layout[1] == '4' && v % 1000 == 0;
            } else if (!same_layout(col, layout, layout_len, v))
                goto text;
            ((int64_t *)col->values)[row] = v;
            s->p = quote + 1;
            return OK;
        }
    }
text:;
    int rc = temporal_to_text(s, col, row);
    if (rc)
        return rc;
    if ((rc = scan_string(s, &col->chars)))
        return rc;
    return end_text(col, row);
}

static int null_value(Column *col, Py_ssize_t row) {
    col->nulls++;
    switch (col->kind) {
    case 'i': ((int64_t *)col->values)[row] = 0; break;
    case 'f': ((double *)col->values)[row] = 0.0; break;
    case 'd': ((int32_t *)col->values)[row] = 0; break;
    case 't': ((int64_t *)col->values)[row] = 0; break;
    case 'a': col->tags[row] = T_NULL; /* fall through */
    case 's': return end_text(col, row);
    }
    return OK;
}

static int untyped_value(Scan *s, Column *col, Py_ssize_t row) {
    int c = peek(s), rc = OK;
    uint8_t *tag = &col->tags[row];
    Value *value = &((Value *)col->values)[row];
    Number num;
    if (c == '"') {
        *tag = T_STR;
        if ((rc = scan_string(s, &col->chars)))
            return rc;
    } else if (c == 't') {
        *tag = T_TRUE;
        if (literal(s, "true", 4))
            return BAIL;
    } else if (c == 'f') {
        *tag = T_FALSE;
        if (literal(s, "false", 5))
            return BAIL;
    } else {
        if (scan_number(s, &num))
            return BAIL;
        if (num.is_float) {
            *tag = T_FLOAT;
            if (fast_double(&num, &value->d) == DEFER) {
                *tag = T_SLOW;
                rc = bytes_add(&col->chars, num.start, num.len);
            }
        } else if (num.fits) {
            *tag = T_INT;
            value->i = num.value;
        } else {
            if (num.len > MAX_INT_DIGITS)
                return BAIL; /* beyond what Python converts without a limit */
            *tag = T_BIG;
#ifdef __SIZEOF_INT128__
            __int128 wide;
            if (token_to_int128(num.start, num.len, &wide)) {
                *tag = T_WIDE;
                rc = bytes_add(&col->chars, (const char *)&wide, sizeof wide);
            } else
#endif
                rc = bytes_add(&col->chars, num.start, num.len);
        }
        if (rc)
            return rc;
    }
    return end_text(col, row);
}

static int typed_value(Scan *s, Column *col, Py_ssize_t row) {
    int rc;
    Number num;
    set_bit(col->valid, row);
    switch (col->kind) {
    case 'i':
        if (scan_number(s, &num) || num.is_float)
            return BAIL;
        ((int64_t *)col->values)[row] = num.fits ? num.value : 0;
        if (num.fits)
            return OK;
        if (num.len > MAX_INT_DIGITS)
            return BAIL;
        col->overflow = 1;
        return add_pending(s, col, row, &num);
    case 'f': {
        double *d = &((double *)col->values)[row];
        if (scan_number(s, &num))
            return BAIL;
        if (!num.is_float) {
            /* an int a double holds exactly; others go the careful way */
            if (!num.fits || num.value > (1LL << 53) || num.value < -(1LL << 53))
                return BAIL;
            *d = (double)num.value;
            return OK;
        }
        if (fast_double(&num, d) == OK)
            return OK;
        *d = 0.0;
        return add_pending(s, col, row, &num);
    }
    case 'b':
        if (peek(s) == 't') {
            if (literal(s, "true", 4))
                return BAIL;
            set_bit(col->values, row);
            return OK;
        }
        return literal(s, "false", 5);
    case 's':
        if (peek(s) != '"')
            return BAIL;
        if ((rc = scan_string(s, &col->chars)))
            return rc;
        return end_text(col, row);
    case 'd':
    case 't':
        return temporal_value(s, col, row);
    }
    return BAIL;
}

static int value(Scan *s, Column *col, Py_ssize_t row) {
    if (peek(s) == 'n') {
        if (literal(s, "null", 4))
            return BAIL;
        return null_value(col, row);
    }
    if (col->kind == 'a')
        return untyped_value(s, col, row);
    return typed_value(s, col, row);
}

/* ------------------------------------------------------------------ rows (no GIL) */

static Column *find_column(Scan *s, const char *key, Py_ssize_t len, Py_ssize_t guess) {
    Py_ssize_t c = guess;
    for (Py_ssize_t i = 0; i < s->ncols; i++, c++) {
        if (c == s->ncols)
            c = 0;
        Column *col = &s->cols[c];
        if (col->name_len == len && memcmp(col->name, key, (size_t)len) == 0)
            return col;
    }
    return NULL;
}

/* Whether the key after its opening quote at `key` is `col`'s plain name and its closing
 * quote: rows usually list their keys in the columns' order, so this is the common case,
 * found without looking for the key's end byte by byte first. */
static inline int key_is(const Scan *s, const Column *col, const char *key) {
    Py_ssize_t n = col->name_len;
    if (!col->plain_name || s->end - key <= n || key[n] != '"')
        return 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (key[i] != col->name[i])
            return 0;
    return 1;
}

static int row(Scan *s) {
    Py_ssize_t r = s->rows, found = 0, guess = 0;
    int rc;
    if ((rc = reserve_rows(s, r + 1)))
        return rc;
    s->p++; /* "{" */
    skip_ws(s);
    if (peek(s) != '}') {
        for (;;) {
            if (peek(s) != '"')
                return BAIL;
            const char *quote = s->p, *key = ++s->p;
            Column *col = &s->cols[guess == s->ncols ? 0 : guess];
            if (key_is(s, col, key))
                s->p = key + col->name_len + 1;
            else {
                while (s->p < s->end && !(byte_class[(unsigned char)*s->p] & C_STOP))
                    s->p++;
                Py_ssize_t key_len = s->p - key;
                if (peek(s) == '"')
                    s->p++;
                else { /* an escaped key: compare it unescaped */
                    s->p = quote;
                    s->key.len = 0;
                    if ((rc = scan_string(s, &s->key)))
                        return rc;
                    key = s->key.data ? s->key.data : "";
                    key_len = s->key.len;
                }
                col = find_column(s, key, key_len, guess);
            }
            if (!col || col->seen_row == r)
                return BAIL; /* a key that is not a column, or a duplicate */
            skip_ws(s);
            if (peek(s) != ':')
                return BAIL;
            s->p++;
            skip_ws(s);
            col->seen_row = r;
            found++;
            guess = (col - s->cols) + 1;
            if ((rc = value(s, col, r)))
                return rc;
            int more = after_item(s, '}');
            if (more < 0)
                return BAIL;
            if (!more)
                break;
        }
    }
    s->p++; /* "}" */
    if (found < s->ncols) /* absent keys are nulls, as msgspec's defaults */
        for (Py_ssize_t c = 0; c < s->ncols; c++)
            if (s->cols[c].seen_row != r && (rc = null_value(&s->cols[c], r)))
                return rc;
    s->rows++;
    return OK;
}

static int rows(Scan *s) {
    int rc;
    skip_ws(s);
    if (peek(s) != '[')
        return BAIL;
    s->p++;
    skip_ws(s);
    if (peek(s) == ']')
        s->p++;
    else
        for (;;) {
            if (peek(s) != '{')
                return BAIL;
            if ((rc = row(s)))
                return rc;
            int more = after_item(s, ']');
            if (more < 0)
                return BAIL;
            if (!more) {
                s->p++;
                break;
            }
        }
    skip_ws(s);
    return s->p == s->end ? OK : BAIL;
}

/* ------------------------------------------------------------------ Python values (GIL) */

static int set_object(PyObject *list, Py_ssize_t i, PyObject *value) {
    if (!value) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) { /* sys.set_int_max_str_digits */
            PyErr_Clear();
            return BAIL;
        }
        return FAIL;
    }
    PyList_SET_ITEM(list, i, value);
    return OK;
}

static int untyped_objects(Column *col, Py_ssize_t n) {
    if (!(col->objects = PyList_New(n)))
        return FAIL;
    const Value *values = col->values;
    for (Py_ssize_t r = 0; r < n; r++) {
        Py_ssize_t len = col->offsets[r + 1] - col->offsets[r];
        const char *text = len ? col->chars.data + col->offsets[r] : "";
        PyObject *obj;
        double d;
        int rc;
        switch (col->tags[r]) {
        case T_TRUE: obj = Py_NewRef(Py_True); break;
        case T_FALSE: obj = Py_NewRef(Py_False); break;
        case T_INT: obj = PyLong_FromLongLong(values[r].i); break;
        case T_FLOAT: obj = PyFloat_FromDouble(values[r].d); break;
        case T_STR: obj = PyUnicode_DecodeUTF8(text, len, "strict"); break;
        case T_BIG: obj = token_to_long(text, len); break;
#ifdef __SIZEOF_INT128__
        case T_WIDE: {
            __int128 wide;
            memcpy(&wide, text, sizeof wide);
            obj = int128_to_long(wide);
            break;
        }
#endif
        case T_SLOW:
            if ((rc = token_to_double(text, len, &d)))
                return rc;
            obj = PyFloat_FromDouble(d);
            break;
        default: obj = Py_NewRef(Py_None);
        }
        if ((rc = set_object(col->objects, r, obj)))
            return rc;
    }
    return OK;
}

/* The one kind of an untyped column's values in this batch ('n': all null), 'I' for integers
 * some of which are beyond int64, or 'a' for a mix: those two become Python objects, as the
 * careful path's. */
static char untyped_kind(const Column *col, Py_ssize_t n) {
    unsigned seen = 0;
    for (Py_ssize_t r = 0; r < n; r++)
        seen |= 1u << col->tags[r];
    seen &= ~(1u << T_NULL);
    if (!seen)
        return 'n';
    if (!(seen & ~(1u << T_INT)))
        return 'i';
    if (!(seen & ~((1u << T_INT) | (1u << T_BIG) | (1u << T_WIDE))))
        return 'I'; /* integers, some beyond int64: Python ints, known to be nothing else */
    if (!(seen & ~((1u << T_FLOAT) | (1u << T_SLOW))))
        return 'f';
    if (!(seen & ~((1u << T_TRUE) | (1u << T_FALSE))))
        return 'b';
    if (seen == 1u << T_STR)
        return 's';
    return 'a';
}

/* An untyped column whose values are all text: 'd' or 't' when every value is one that a
 * date or datetime column reads (datetimes in one layout), their numbers in its values
 * (8 bytes a row: room for either; a text cell has no value there to keep); else 's'. */
static char untyped_temporal(Column *col, Py_ssize_t n) {
    int32_t *days = (int32_t *)col->values;
    int64_t *stamps = (int64_t *)col->values, v;
    char kind = 0, layout[LAYOUT_MAX];
    int layout_len;
    for (Py_ssize_t r = 0; r < n; r++) {
        if (col->tags[r] == T_NULL)
            continue;
        set_bit(col->valid, r);
        const char *text = col->chars.data + col->offsets[r];
        Py_ssize_t len = col->offsets[r + 1] - col->offsets[r];
        if (!kind)
            kind = len == 10 ? 'd' : 't';
        if (kind == 'd') {
            if (len != 10 || parse_day(text, &v))
                return 's';
            days[r] = (int32_t)v;
        } else {
            if (parse_stamp(text, len, &v, layout, &layout_len))
                return 's';
            if (!col->layout_len) {
                memcpy(col->layout, layout, (size_t)layout_len);
                col->layout_len = layout_len;
                col->zero_fraction = layout[1] == '4' && v % 1000 == 0;
            } else if (!same_layout(col, layout, layout_len, v))
                return 's';
            stamps[r] = v;
        }
    }
    for (Py_ssize_t r = 0; r < n; r++) /* zeros under the nulls, as the typed columns have */
        if (col->tags[r] == T_NULL) {
            if (kind == 'd')
                days[r] = 0;
            else
                stamps[r] = 0;
        }
    return kind ? kind : 's';
}

/* An untyped column of one kind as that kind's buffers: validity from the tags, zeros under
 * nulls (as the typed columns have), floats off the fast path converted, booleans packed. */
static int untyped_buffers(Column *col, Py_ssize_t n) {
    Value *values = col->values;
    uint8_t *bits = NULL;
    int rc;
    if (col->as == 'b' && !(bits = calloc((size_t)(n + 7) / 8 + 1, 1)))
        return NOMEM;
    for (Py_ssize_t r = 0; r < n; r++) {
        uint8_t tag = col->tags[r];
        if (tag == T_NULL) {
            if (col->as == 'i' || col->as == 'f')
                values[r].i = 0;
            continue;
        }
        set_bit(col->valid, r);
        if (tag == T_TRUE)
            set_bit(bits, r);
        else if (tag == T_SLOW) {
            Py_ssize_t len = col->offsets[r + 1] - col->offsets[r];
            if ((rc = token_to_double(col->chars.data + col->offsets[r], len, &values[r].d))) {
                free(bits);
                return rc;
            }
        }
    }
    if (bits) {
        free(col->values);
        col->values = bits;
    }
    return OK;
}

/* An integer column with values beyond int64: all of them as Python ints (or None). */
static int integer_objects(Scan *s, Py_ssize_t c) {
    Column *col = &s->cols[c];
    Py_ssize_t n = s->rows, next = 0;
    int rc;
    if (!(col->objects = PyList_New(n)))
        return FAIL;
    const int64_t *values = col->values;
    for (Py_ssize_t r = 0; r < n; r++) {
        while (next < s->npending && (s->pending[next].col != c || s->pending[next].row < r))
            next++;
        PyObject *obj;
        if (next < s->npending && s->pending[next].row == r) {
            const Pending *p = &s->pending[next];
#ifdef __SIZEOF_INT128__
            if (p->wide)
                obj = int128_to_long(p->value);
            else
#endif
                obj = token_to_long(p->token, p->len);
        }
        else if ((col->valid[r >> 3] >> (r & 7)) & 1)
            obj = PyLong_FromLongLong(values[r]);
        else
            obj = Py_NewRef(Py_None);
        if ((rc = set_object(col->objects, r, obj)))
            return rc;
    }
    return OK;
}

/* Convert what the scan left for Python: careful floats, big integers, untyped cells. */
static int finish(Scan *s) {
    int rc;
    for (Py_ssize_t i = 0; i < s->npending; i++) {
        Pending *p = &s->pending[i];
        Column *col = &s->cols[p->col];
        if (col->kind == 'f' && (rc = token_to_double(p->token, p->len,
                                                      &((double *)col->values)[p->row])))
            return rc;
    }
    for (Py_ssize_t c = 0; c < s->ncols; c++) {
        Column *col = &s->cols[c];
        if (col->kind == 'a') {
            col->as = untyped_kind(col, s->rows);
            if (col->as == 's' && col->untyped_temporal)
                col->as = untyped_temporal(col, s->rows);
            if (col->as == 'd' || col->as == 't')
                continue; /* (its validity set on the way) */
            rc = col->as == 'a' || col->as == 'I' ? untyped_objects(col, s->rows)
                                                  : untyped_buffers(col, s->rows);
            if (rc == NOMEM)
                PyErr_NoMemory();
            if (rc)
                return rc == NOMEM ? FAIL : rc;
        }
        if (col->kind == 'i' && col->overflow && (rc = integer_objects(s, c)))
            return rc;
    }
    return OK;
}

/* ------------------------------------------------------------------ results */

static PyObject *bitmap(const uint8_t *bits, Py_ssize_t n) {
    return PyBytes_FromStringAndSize((const char *)bits, (n + 7) / 8);
}

/* A buffer the scan filled, handed to Python as it is (Arrow wraps it without a copy): its
 * memory is freed with the object. Copying each batch's columns into bytes objects meant a
 * second write of every value, and new pages, while holding the GIL. */
typedef struct {
    PyObject_HEAD
    void *data;
    Py_ssize_t len;
} Block;

static int block_getbuffer(PyObject *self, Py_buffer *view, int flags) {
    Block *block = (Block *)self;
    return PyBuffer_FillInfo(view, self, block->data, block->len, 1, flags);
}

static void block_dealloc(PyObject *self) {
    free(((Block *)self)->data);
    Py_TYPE(self)->tp_free(self);
}

static PyBufferProcs block_buffer = {.bf_getbuffer = block_getbuffer};

static PyTypeObject BlockType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "watch_pandas._scan.Block",
    .tp_basicsize = sizeof(Block),
    .tp_dealloc = block_dealloc,
    .tp_as_buffer = &block_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Memory a scan filled, read-only, freed with this object.",
};

/* The first `len` bytes of a buffer the column owns, as a Block that owns them from now on
 * (*data is left NULL); an empty bytes object when there are none. */
static PyObject *hand_over(void **data, Py_ssize_t len) {
    if (!*data || len <= 0)
        return PyBytes_FromStringAndSize("", 0);
    Block *block = PyObject_New(Block, &BlockType);
    if (!block)
        return NULL;
    void *exact = realloc(*data, (size_t)len); /* a smaller size: in place, the rest freed */
    block->data = exact ? exact : *data;
    block->len = len;
    *data = NULL;
    return (PyObject *)block;
}

static PyObject *hand_over_text(Column *col, Py_ssize_t n) {
    return hand_over((void **)&col->offsets, (n + 1) * (Py_ssize_t)sizeof(int32_t));
}

/* Dates ('d': int32 days) or datetimes ('t': int64 ms, and how the batch wrote them). */
static PyObject *temporal_result(Column *col, PyObject *valid, Py_ssize_t n, char letter) {
    if (letter == 'd')
        return Py_BuildValue("(y#NNn)", "d", (Py_ssize_t)1, valid, hand_over(&col->values, n * 4),
                             col->nulls);
    return Py_BuildValue("(y#NNny#)", "t", (Py_ssize_t)1, valid, hand_over(&col->values, n * 8),
                         col->nulls, col->layout, (Py_ssize_t)col->layout_len);
}

static PyObject *column_result(Column *col, Py_ssize_t n) {
    if (col->objects && col->as == 'I')
        return Py_BuildValue("(y#O)", "I", (Py_ssize_t)1, col->objects);
    if (col->objects)
        return Py_NewRef(col->objects);
    PyObject *valid = col->nulls ? bitmap(col->valid, n) : Py_NewRef(Py_None);
    if (!valid)
        return NULL;
    PyObject *out = NULL;
    if ((col->kind == 'd' || col->kind == 't') && col->nulls == n) {
        Py_DECREF(valid);
        return Py_BuildValue("(y#n)", "n", (Py_ssize_t)1, col->nulls);
    }
    if (col->kind == 'd' || col->kind == 't')
        return temporal_result(col, valid, n, col->kind);
    if (col->kind == 'a') { /* one kind: its letter, then the buffers of that kind */
        switch (col->as) {
        case 'n':
            Py_DECREF(valid);
            return Py_BuildValue("(y#n)", "n", (Py_ssize_t)1, col->nulls);
        case 'i':
        case 'f':
            return Py_BuildValue("(y#NNn)", &col->as, (Py_ssize_t)1, valid,
                                 hand_over(&col->values, n * 8), col->nulls);
        case 'b':
            return Py_BuildValue("(y#NNn)", &col->as, (Py_ssize_t)1, valid,
                                 bitmap(col->values, n), col->nulls);
        case 'd':
        case 't':
            return temporal_result(col, valid, n, col->as);
        case 's':
            return Py_BuildValue("(y#NNNn)", &col->as, (Py_ssize_t)1, valid,
                                 hand_over_text(col, n),
                                 hand_over((void **)&col->chars.data, col->chars.len), col->nulls);
        }
    }
    if (col->asked != col->kind) /* a date or datetime column that went on as text */
        return Py_BuildValue("(y#NNNn)", "s", (Py_ssize_t)1, valid, hand_over_text(col, n),
                             hand_over((void **)&col->chars.data, col->chars.len), col->nulls);
    switch (col->kind) {
    case 'i':
    case 'f':
        out = Py_BuildValue("(NNn)", valid, hand_over(&col->values, n * 8), col->nulls);
        break;
    case 'b':
        out = Py_BuildValue("(NNn)", valid, bitmap(col->values, n), col->nulls);
        break;
    case 's':
        out = Py_BuildValue("(NNNn)", valid, hand_over_text(col, n),
                            hand_over((void **)&col->chars.data, col->chars.len), col->nulls);
        break;
    default:
        Py_DECREF(valid);
        PyErr_SetString(PyExc_SystemError, "an untyped column without its objects");
    }
    return out;
}

static void free_columns(Column *cols, Py_ssize_t ncols) {
    for (Py_ssize_t c = 0; c < ncols; c++) {
        free(cols[c].valid);
        free(cols[c].values);
        free(cols[c].tags);
        free(cols[c].offsets);
        free(cols[c].chars.data);
        Py_XDECREF(cols[c].objects);
    }
    PyMem_Free(cols);
}

static PyObject *scan_rows(PyObject *module, PyObject *args) {
    Py_buffer batch;
    PyObject *names, *result = NULL;
    const char *kinds;
    Py_ssize_t nkinds;
    int rc;
    (void)module;
    if (!PyArg_ParseTuple(args, "y*O!y#", &batch, &PyTuple_Type, &names, &kinds, &nkinds))
        return NULL;
    Py_ssize_t ncols = PyTuple_GET_SIZE(names);
    Scan s = {.p = batch.buf, .start = batch.buf, .end = (const char *)batch.buf + batch.len,
              .ncols = ncols};
    if (nkinds != ncols || ncols == 0) {
        PyErr_SetString(PyExc_ValueError, "one kind per column name, at least one column");
        goto done;
    }
    s.cols = PyMem_Calloc((size_t)ncols, sizeof(Column));
    if (!s.cols) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t c = 0; c < ncols; c++) {
        Column *col = &s.cols[c];
        PyObject *name = PyTuple_GET_ITEM(names, c);
        col->kind = col->asked = kinds[c];
        if (col->kind == 'A') {
            col->kind = col->asked = 'a';
            col->untyped_temporal = 1;
        }
        col->seen_row = -1;
        if (!strchr("ifbsadt", col->kind) || col->kind == '\0' ||
            PyBytes_AsStringAndSize(name, (char **)&col->name, &col->name_len) < 0) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "unknown column kind %c", col->kind);
            goto done;
        }
        col->plain_name = 1;
        for (Py_ssize_t i = 0; i < col->name_len; i++)
            if (byte_class[(unsigned char)col->name[i]] & C_STOP)
                col->plain_name = 0;
    }
    /* The scan touches no Python object: other threads (a dashboard's other widgets, the
     * kernel's) run meanwhile. `batch` stays exported, so its buffer cannot move. */
    Py_BEGIN_ALLOW_THREADS
    rc = rows(&s);
    Py_END_ALLOW_THREADS
    if (rc == NOMEM) {
        PyErr_NoMemory();
        goto done;
    }
    if (rc == OK)
        rc = finish(&s);
    if (rc == FAIL)
        goto done;
    if (rc != OK) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    PyObject *columns = PyList_New(ncols);
    if (!columns)
        goto done;
    for (Py_ssize_t c = 0; c < ncols; c++) {
        PyObject *col = column_result(&s.cols[c], s.rows);
        if (!col) {
            Py_DECREF(columns);
            goto done;
        }
        PyList_SET_ITEM(columns, c, col);
    }
    result = Py_BuildValue("(nN)", s.rows, columns);
done:
    if (s.cols)
        free_columns(s.cols, ncols);
    free(s.pending);
    free(s.key.data);
    PyBuffer_Release(&batch);
    return result;
}

static PyObject *temporal_text(PyObject *module, PyObject *args) {
    Py_buffer values, validity = {0};
    PyObject *valid_obj, *result = NULL;
    Py_ssize_t n;
    const char *layout;
    Py_ssize_t layout_len;
    (void)module;
    if (!PyArg_ParseTuple(args, "y*Ony#", &values, &valid_obj, &n, &layout, &layout_len))
        return NULL;
    Py_ssize_t width = layout_len == 1 && layout[0] == 'd' ? 4 : 8;
    Bytes chars = {0};
    int32_t *offsets = NULL;
    if (valid_obj != Py_None && PyObject_GetBuffer(valid_obj, &validity, PyBUF_SIMPLE) < 0)
        goto done;
    if (n < 0 || values.len < n * width || (validity.buf && validity.len < (n + 7) / 8)) {
        PyErr_SetString(PyExc_ValueError, "buffers shorter than the values");
        goto done;
    }
    if (!(offsets = PyMem_Malloc((size_t)(n + 1) * sizeof(int32_t)))) {
        PyErr_NoMemory();
        goto done;
    }
    offsets[0] = 0;
    const uint8_t *bits = validity.buf;
    for (Py_ssize_t r = 0; r < n; r++) {
        if (!bits || (bits[r >> 3] >> (r & 7)) & 1) {
            int64_t v = width == 4 ? ((const int32_t *)values.buf)[r]
                                   : ((const int64_t *)values.buf)[r];
            int rc = format_temporal(&chars, v, layout, layout_len);
            if (rc || chars.len > INT32_MAX) {
                if (rc == NOMEM)
                    PyErr_NoMemory();
                else
                    PyErr_SetString(PyExc_ValueError, "not a layout temporal_text knows");
                goto done;
            }
        }
        offsets[r + 1] = (int32_t)chars.len;
    }
    result = Py_BuildValue("(y#y#)", (const char *)offsets, (n + 1) * (Py_ssize_t)sizeof(int32_t),
                           chars.data ? chars.data : "", chars.len);
done:
    PyMem_Free(offsets);
    free(chars.data);
    if (validity.buf)
        PyBuffer_Release(&validity);
    PyBuffer_Release(&values);
    return result;
}

static PyMethodDef methods[] = {
    {"scan_rows", scan_rows, METH_VARARGS,
     "scan_rows(batch, names, kinds) -> (n_rows, columns) | None\n\n"
     "Column buffers of a batch of result rows; None when the batch needs the careful path."},
    {"temporal_text", temporal_text, METH_VARARGS,
     "temporal_text(values, validity, n, layout) -> (offsets, data)\n\n"
     "The text of a date or datetime answer of scan_rows, as the batch wrote it."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_scan",
    .m_doc = "Scan result rows into Arrow column buffers.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__scan(void) {
    init_byte_class();
    if (PyType_Ready(&BlockType) < 0)
        return NULL;
    return PyModule_Create(&module);
}
