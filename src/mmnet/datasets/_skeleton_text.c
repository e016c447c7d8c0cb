/* One-pass reader of canonical Kinect v2 ``.skeleton`` text (mmnet.datasets.ntu_format).
 *
 * Why compiled: a stage reads tens of thousands of 100-500 KiB files, and no reader on the
 * package registries parses this ragged layout in one pass (docs/performance.md, section 3).
 * This file walks the bytes once, checks the structure as it goes and converts only the
 * requested joint fields.
 *
 * It accepts only canonical files: single blanks between fields, LF or CR-LF line ends, no
 * empty line, counts as plain digits, and in every joint line the fields up to the last one
 * asked for are decimal numbers; the fields after it are checked for their count and for
 * number bytes ("0123456789+-.eE") only, as a number's grammar there would double the time.
 * Anything else returns None and the caller uses the exact line reader, which is the
 * reference for every value and every error message.
 *
 * Numbers are rounded correctly: Clinger's fast path (an exact integer times or divided by an
 * exact power of ten, one IEEE rounding) where it applies, else CPython's own conversion, the
 * one behind float(). So a value read here equals float() of its token, bit for bit.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define BODY_INFO_FIELDS 10
#define MAX_FIELDS 64
#define MAX_TOKEN 63

/* Exact powers of ten: 10^0 .. 10^22 are all representable as doubles. */
static const double POW10[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* 1 for every byte that cannot be part of a field or the blank between two fields. */
static unsigned char NOT_NUMERIC[256];

static void init_tables(void) {
    memset(NOT_NUMERIC, 1, sizeof NOT_NUMERIC);
    for (const char *c = "0123456789+-.eE "; *c; c++) NOT_NUMERIC[(unsigned char)*c] = 0;
}

typedef struct {
    const char *pos; /* next byte to read */
    const char *end; /* one past the last byte */
} Cursor;

static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Token [start, *stop): up to the next blank, CR or LF. Fails on an empty token or a byte
 * outside the canonical set. *last is 1 when the token ends its line. */
static int next_token(Cursor *cur, const char **start, const char **stop, int *last) {
    const char *p = cur->pos;
    *start = p;
    while (p < cur->end) {
        char c = *p;
        if (c == ' ' || c == '\r' || c == '\n') break;
        if (!(is_digit(c) || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E')) return -1;
        p++;
    }
    if (p == *start) return -1; /* empty token: leading, doubled or trailing blank; empty line */
    *stop = p;
    if (p == cur->end) { /* last line without a line feed */
        *last = 1;
        cur->pos = p;
    } else if (*p == ' ') {
        *last = 0;
        cur->pos = p + 1;
    } else if (*p == '\n') {
        *last = 1;
        cur->pos = p + 1;
    } else { /* CR: only as part of CR-LF */
        if (p + 1 >= cur->end || p[1] != '\n') return -1;
        *last = 1;
        cur->pos = p + 2;
    }
    if (*last == 0 && cur->pos == cur->end) return -1; /* a blank ends the data */
    return 0;
}

/* A line holding one plain-digit count. */
static int read_count(Cursor *cur, long long *value) {
    const char *start, *stop;
    int last;
    if (next_token(cur, &start, &stop, &last) != 0 || !last || stop - start > 18) return -1;
    long long v = 0;
    for (const char *p = start; p < stop; p++) {
        if (!is_digit(*p)) return -1;
        v = v * 10 + (*p - '0');
    }
    *value = v;
    return 0;
}

/* The value of decimal token [s, e) by CPython's correctly rounded conversion, float()'s own;
 * -1 when it is not a number or too long for the buffer (the exact reader takes the file). */
static int slow_double(const char *s, const char *e, double *out) {
    char buffer[MAX_TOKEN + 1];
    Py_ssize_t length = e - s;
    if (length > MAX_TOKEN) return -1;
    memcpy(buffer, s, (size_t)length);
    buffer[length] = '\0';
    char *stop;
    double v = PyOS_string_to_double(buffer, &stop, NULL);
    if (v == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    if (stop != buffer + length) return -1;
    *out = v;
    return 0;
}

/* Digit runs eight bytes at a time (SWAR, as fast_float does): a byte-by-byte loop pays a
 * mispredicted branch where each run ends, which was most of this reader's time. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SWAR 1
#else
#define SWAR 0
#endif

static const uint64_t POW10_INT[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
                                      100000000};

/* How many of the 8 bytes in v (first byte lowest) are ASCII digits before the first other. */
static inline int leading_digits(uint64_t v) {
    uint64_t x = v ^ 0x3030303030303030ULL; /* a digit becomes 0x00..0x09 */
    uint64_t other = (((x & 0x7F7F7F7F7F7F7F7FULL) + 0x7676767676767676ULL) | x) &
                     0x8080808080808080ULL; /* high bit: byte >= 0x0A, so not a digit */
    return other ? __builtin_ctzll(other) >> 3 : 8;
}

/* The end of the digit run starting at p. */
static inline const char *digits_end(const char *p, const char *end) {
#if SWAR
    while (end - p >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        int run = leading_digits(v);
        p += run;
        if (run < 8) return p;
    }
#endif
    while (p < end && (unsigned)(*p - '0') < 10) p++;
    return p;
}

/* mantissa followed by the digits [a, b) (wraps past 19 digits: the caller then declines the
 * fast path). */
static inline uint64_t append_digits(uint64_t mantissa, const char *a, const char *b,
                                     const char *end) {
    Py_ssize_t n = b - a;
#if SWAR
    if (n >= 1 && n <= 8 && end - a >= 8) { /* the run as one 8-digit number, zeros in front */
        uint64_t v;
        memcpy(&v, a, 8);
        v -= 0x3030303030303030ULL; /* borrows only run into the bytes after the run */
        v <<= 8 * (8 - n);
        v = v * 10 + (v >> 8);
        v = (((v & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32))) +
             (((v >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >> 32;
        return mantissa * POW10_INT[n] + (uint32_t)v;
    }
#else
    (void)end;
#endif
    for (; a < b; a++) mantissa = mantissa * 10 + (uint64_t)(*a - '0');
    return mantissa;
}

/* After a token: consume its separator; *last = it ended the line. -1: another byte, a lone
 * CR, or the data ending in a blank. */
static inline int end_token(Cursor *cur, const char *p, int *last) {
    const char *end = cur->end;
    if (p == end) *last = 1;
    else if (*p == ' ') *last = 0, p++;
    else if (*p == '\n') *last = 1, p++;
    else if (*p == '\r' && p + 1 < end && p[1] == '\n') *last = 1, p += 2;
    else return -1;
    if (*last == 0 && p == end) return -1;
    cur->pos = p;
    return 0;
}

/* The next token as a decimal number, [+-]digits[.digits][(e|E)[+-]digits] with at least one
 * mantissa digit, equal to float() of it (convert = 0: checked only). The separator after it
 * is consumed and *last says whether it ended the line; -1: not a number, not canonical. */
static inline int read_number(Cursor *cur, int convert, double *out, int *last) {
    const char *start = cur->pos, *p = start, *end = cur->end;
    if (p == end) return -1;
    int negative = *p == '-';
    p += negative || *p == '+';
    const char *int_end = digits_end(p, end);
    int digits = (int)(int_end - p), exponent = 0;
    uint64_t mantissa = convert ? append_digits(0, p, int_end, end) : 0;
    p = int_end;
    if (p < end && *p == '.') {
        const char *fraction = ++p;
        p = digits_end(p, end);
        digits += (int)(p - fraction);
        exponent = -(int)(p - fraction);
        if (convert) mantissa = append_digits(mantissa, fraction, p, end);
    }
    if (digits == 0) return -1;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int exp_negative = 0;
        if (p < end && (*p == '+' || *p == '-')) exp_negative = *p++ == '-';
        const char *exp_digits = p;
        int value = 0;
        for (unsigned d; p < end && (d = (unsigned)(*p - '0')) < 10; p++) {
            if (value < 100000) value = value * 10 + (int)d;
        }
        if (p == exp_digits) return -1;
        exponent += exp_negative ? -value : value;
    }
    const char *stop = p;
    if (end_token(cur, p, last) != 0) return -1;
    if (!convert) return 0;
    /* Up to 19 digits the mantissa is exact; Clinger's fast path then needs one rounding. */
    if (digits <= 19 && mantissa <= (1ULL << 53) && exponent >= -22 && exponent <= 22) {
        double v = (double)mantissa;
        v = exponent < 0 ? v / POW10[-exponent] : v * POW10[exponent];
        *out = negative ? -v : v;
        return 0;
    }
    return slow_double(start, stop, out);
}

/* The fields of a joint line after the last one asked for, [p, stop), p just after a blank:
 * only decimal-number bytes, single blanks, no empty field. Returns the number of fields, or
 * -1. Sixteen bytes at a time with SSE2 (every x86-64 CPU has it), the rest byte by byte; no
 * branch depends on the bytes, so the CPU checks one line while it parses the next. Checking
 * the number grammar here as well would double the reader's time (docs/performance.md). */
static Py_ssize_t count_fields(const char *p, const char *stop) {
    if (p == stop || stop[-1] == ' ') return -1;
    unsigned bad = 0, after_blank = 1;
    Py_ssize_t blanks = 0;
#ifdef __SSE2__
    const __m128i zero = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9), blank = _mm_set1_epi8(' ');
    const __m128i dot = _mm_set1_epi8('.'), minus = _mm_set1_epi8('-'), plus = _mm_set1_epi8('+');
    const __m128i e = _mm_set1_epi8('e'), big_e = _mm_set1_epi8('E');
    for (; stop - p >= 16; p += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        __m128i digits = _mm_sub_epi8(v, zero);
        digits = _mm_cmpeq_epi8(_mm_min_epu8(digits, nine), digits); /* v - '0' <= 9 */
        __m128i is_blank = _mm_cmpeq_epi8(v, blank);
        __m128i sign = _mm_or_si128(_mm_cmpeq_epi8(v, minus), _mm_cmpeq_epi8(v, plus));
        __m128i exponent = _mm_or_si128(_mm_cmpeq_epi8(v, e), _mm_cmpeq_epi8(v, big_e));
        __m128i ok = _mm_or_si128(_mm_or_si128(digits, is_blank),
                                  _mm_or_si128(_mm_or_si128(sign, exponent),
                                               _mm_cmpeq_epi8(v, dot)));
        unsigned blank_bits = (unsigned)_mm_movemask_epi8(is_blank);
        bad |= (unsigned)_mm_movemask_epi8(ok) ^ 0xFFFFu;
        bad |= blank_bits & ((blank_bits << 1) | after_blank); /* two blanks in a row */
        after_blank = blank_bits >> 15;
        blanks += __builtin_popcount(blank_bits);
    }
#endif
    for (const unsigned char *q = (const unsigned char *)p; q < (const unsigned char *)stop; q++) {
        unsigned is_blank = *q == ' ';
        bad |= NOT_NUMERIC[*q] | (is_blank & after_blank);
        after_blank = is_blank;
        blanks += is_blank;
    }
    return bad ? -1 : blanks + 1;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer data, fields, values, bodies;
    Py_ssize_t num_joints, fields_per_joint;
    if (!PyArg_ParseTuple(args, "y*nny*w*w*", &data, &num_joints, &fields_per_joint, &fields,
                          &values, &bodies))
        return NULL;
    PyObject *result = NULL, *ids = NULL;
    Py_ssize_t n_fields = fields.len;
    const unsigned char *wanted = fields.buf;
    if (num_joints < 1 || fields_per_joint < 1 || fields_per_joint > MAX_FIELDS ||
        fields_per_joint == 1 || fields_per_joint == BODY_INFO_FIELDS || n_fields < 1) {
        PyErr_SetString(PyExc_ValueError, "scan: unsupported layout");
        goto done;
    }
    char convert[MAX_FIELDS] = {0}; /* 1: a field asked for */
    int parsed_fields = 0;           /* fields read as numbers: up to the last one asked for */
    for (Py_ssize_t k = 0; k < n_fields; k++) {
        if (wanted[k] >= fields_per_joint) {
            PyErr_SetString(PyExc_ValueError, "scan: field index out of range");
            goto done;
        }
        convert[wanted[k]] = 1;
        if (wanted[k] >= parsed_fields) parsed_fields = wanted[k] + 1;
    }
    double *out = values.buf;
    int64_t *frame_slot = bodies.buf;
    Py_ssize_t value_room = values.len / (Py_ssize_t)sizeof(double);
    Py_ssize_t body_room = bodies.len / (Py_ssize_t)(2 * sizeof(int64_t));
    Py_ssize_t per_body = num_joints * n_fields;
    ids = PyList_New(0);
    if (ids == NULL) goto done;

    Cursor cur = {data.buf, (const char *)data.buf + data.len};
    long long n_frames, n_bodies_in_frame, joints;
    Py_ssize_t n_bodies = 0;
    const char *start, *stop;
    int last;
    double row[MAX_FIELDS];
    if (read_count(&cur, &n_frames) != 0) goto decline;
    for (long long frame = 0; frame < n_frames; frame++) {
        if (read_count(&cur, &n_bodies_in_frame) != 0) goto decline;
        for (long long slot = 0; slot < n_bodies_in_frame; slot++) {
            if (n_bodies >= body_room || (n_bodies + 1) * per_body > value_room) goto decline;
            /* body-info line: its first field is the tracking id, kept as text */
            const char *id_start = NULL, *id_stop = NULL;
            for (int k = 0; k < BODY_INFO_FIELDS; k++) {
                if (next_token(&cur, &start, &stop, &last) != 0) goto decline;
                if (last != (k == BODY_INFO_FIELDS - 1)) goto decline;
                if (k == 0) id_start = start, id_stop = stop;
            }
            if (read_count(&cur, &joints) != 0 || joints != num_joints) goto decline;
            double *body_out = out + n_bodies * per_body;
            for (Py_ssize_t j = 0; j < num_joints; j++) {
                for (int f = 0; f < parsed_fields; f++) { /* up to the last field asked for */
                    int failed = read_number(&cur, convert[f], &row[f], &last);
                    if (failed || last != (f == fields_per_joint - 1)) goto decline;
                }
                if (parsed_fields < fields_per_joint) { /* the rest, up to the line feed */
                    const char *feed = memchr(cur.pos, '\n', (size_t)(cur.end - cur.pos));
                    const char *line_end = feed ? feed : cur.end;
                    if (feed && line_end > cur.pos && line_end[-1] == '\r') line_end--;
                    if (count_fields(cur.pos, line_end) != fields_per_joint - parsed_fields)
                        goto decline;
                    cur.pos = feed ? feed + 1 : cur.end;
                }
                for (Py_ssize_t k = 0; k < n_fields; k++) body_out[j * n_fields + k] = row[wanted[k]];
            }
            PyObject *id = PyUnicode_DecodeASCII(id_start, id_stop - id_start, NULL);
            if (id == NULL) goto done;
            int failed = PyList_Append(ids, id);
            Py_DECREF(id);
            if (failed) goto done;
            frame_slot[2 * n_bodies] = frame;
            frame_slot[2 * n_bodies + 1] = slot;
            n_bodies++;
        }
    }
    if (cur.pos != cur.end) goto decline; /* lines after the last frame */
    result = Py_BuildValue("LnN", n_frames, n_bodies, PyList_AsTuple(ids));
    goto done;
decline:
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(ids);
    PyBuffer_Release(&data);
    PyBuffer_Release(&fields);
    PyBuffer_Release(&values);
    PyBuffer_Release(&bodies);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(data, num_joints, fields_per_joint, fields, values, bodies) -> "
     "(n_frames, n_bodies, body_ids) or None\n\n"
     "Parse canonical .skeleton bytes: the requested joint fields (indices, as bytes) go to "
     "the float64 buffer ``values`` body after body, (frame, slot) pairs to the int64 buffer "
     "``bodies``. None: not canonical or out of room; read the file with the exact reader."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_skeleton_text",
    "One-pass reader of canonical .skeleton text (see mmnet.datasets.ntu_format).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__skeleton_text(void) {
    init_tables();
    return PyModule_Create(&module);
}
