/* The SSE decoder's fast path in C: `find_frames`, the same function as
 * `streamtape.sse._py_find_frames` (its docstring is the contract; the tests compare the two on
 * every input they generate).
 *
 * It is stateless: it reads one `bytes` object from `start`, frame by frame, line by line (LF,
 * CR or CR LF line ends), joins the payloads of standard frames, and stops at the first frame
 * that dispatches another payload, returning where that one ends and its payload. The parser
 * (Python) keeps all state. Only the limited C API (3.10) is used, so one abi3 build serves every
 * CPython from 3.10 on.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Line ends are found 64 bytes at a time: a block's mask has bit i set when byte i is CR or LF.
 * With SSE2 (every x86-64) that is four compares per 16 bytes; elsewhere a loop the compiler may
 * vectorise (STREAMTAPE_NO_SIMD forces it, for testing). Bytes past the end of the buffer count
 * as neither. */
#if defined(__SSE2__) && !defined(STREAMTAPE_NO_SIMD)
#include <emmintrin.h>
static uint64_t
block_mask(const char *p)
{
    const __m128i lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    uint64_t mask = 0;
    for (int i = 0; i < 4; i++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
        __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr));
        mask |= (uint64_t)(uint32_t)_mm_movemask_epi8(hit) << (16 * i);
    }
    return mask;
}
#else
static uint64_t
block_mask(const char *p)
{
    uint64_t mask = 0;
    for (int i = 0; i < 64; i++) {
        mask |= (uint64_t)(p[i] == '\n' || p[i] == '\r') << i;
    }
    return mask;
}
#endif

static inline int
lowest_bit(uint64_t mask) /* mask != 0 */
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(mask);
#else
    int i = 0;
    while (!(mask & 1)) {
        mask >>= 1;
        i++;
    }
    return i;
#endif
}

/* The line ends of r[pos:n], in order: `mask` holds those of r[base:base+64] not yet taken.
 * Blocks are read once each, in order, so one `find_frames` call reads each byte once, plus at
 * most 63 bytes past the last line end it takes. Taking an end clears the lowest bit: no work
 * per line depends on the one before but that (a line costs a few cycles, however short). */
typedef struct {
    const char *r;
    Py_ssize_t n, base;
    uint64_t mask;
} Ends;

static uint64_t
mask_at(const Ends *ends, Py_ssize_t base)
{
    if (ends->n - base >= 64) {
        return block_mask(ends->r + base);
    }
    char block[64] = {0};
    memcpy(block, ends->r + base, (size_t)(ends->n - base));
    return block_mask(block);
}

static void
ends_start(Ends *ends, const char *r, Py_ssize_t pos, Py_ssize_t n)
{
    ends->r = r;
    ends->n = n;
    ends->base = pos;
    ends->mask = pos < n ? mask_at(ends, pos) : 0;
}

/* The offset of the next CR or LF, or n when there is none left. */
static inline Py_ssize_t
take_end(Ends *ends)
{
    while (ends->mask == 0) {
        if (ends->n - ends->base <= 64) {
            ends->base = ends->n;
            return ends->n;
        }
        ends->base += 64;
        ends->mask = mask_at(ends, ends->base);
    }
    Py_ssize_t end = ends->base + lowest_bit(ends->mask);
    ends->mask &= ends->mask - 1;
    return end;
}

/* Offset just past the line end at r[e] (an LF, a CR, or a CR LF pair, whose LF it takes from
 * `ends`). A CR at the end of the buffer is a whole line end: an LF that may follow it is then a
 * blank line of its own. */
static inline Py_ssize_t
past_line_end(const char *r, Py_ssize_t e, Py_ssize_t n, Ends *ends)
{
    if (r[e] == '\r' && e + 1 < n && r[e + 1] == '\n') {
        take_end(ends);
        return e + 2;
    }
    return e + 1;
}

/* Where the value of a `data` field line r[pos:e] starts, or -1 when the line is no `data` field
 * (the field name is what precedes the first colon, or the whole line; one space after the
 * colon is not part of the value). */
static Py_ssize_t
data_value(const char *r, Py_ssize_t pos, Py_ssize_t e)
{
    if (e - pos < 4 || memcmp(r + pos, "data", 4) != 0) {
        return -1;
    }
    pos += 4;
    if (pos == e) {
        return pos;
    }
    if (r[pos] != ':') {
        return -1;
    }
    pos++;
    return (pos < e && r[pos] == ' ') ? pos + 1 : pos;
}

typedef struct {
    Py_ssize_t start, stop;
} Span;

#define LOCAL_SPANS 64

/* A growable array of spans, on the stack until it outgrows LOCAL_SPANS. */
typedef struct {
    Span *items;
    Py_ssize_t count, cap;
    Span local[LOCAL_SPANS];
} Spans;

static int
push_span(Spans *spans, Py_ssize_t start, Py_ssize_t stop)
{
    if (spans->count == spans->cap) {
        size_t bytes = 2 * (size_t)spans->cap * sizeof(Span);
        Span *grown = spans->items == spans->local ? PyMem_Malloc(bytes)
                                                   : PyMem_Realloc(spans->items, bytes);
        if (grown == NULL) {
            return -1;
        }
        if (spans->items == spans->local) {
            memcpy(grown, spans->local, sizeof(spans->local));
        }
        spans->items = grown;
        spans->cap *= 2;
    }
    spans->items[spans->count].start = start;
    spans->items[spans->count].stop = stop;
    spans->count++;
    return 0;
}

/* The frame at r[pos] (a frame start) in r[0:n]: returns the offset just past its blank line,
 * -1 when the buffer ends before it, or -2 when memory ran out. Appends the span of each of its
 * `data` values to *spans (the caller drops them for a frame the buffer cut). */
static Py_ssize_t
parse_frame(const char *r, Py_ssize_t pos, Py_ssize_t n, Ends *ends, Spans *spans)
{
    Ends local = *ends; /* in registers: a span written through a pointer cannot alias it */
    Py_ssize_t result = -1;
    while (pos < n) {
        Py_ssize_t e = take_end(&local);
        if (e == n) {
            break;
        }
        if (e == pos) {
            result = past_line_end(r, e, n, &local);
            break;
        }
        Py_ssize_t v = data_value(r, pos, e);
        if (v >= 0 && push_span(spans, v, e) < 0) {
            result = -2;
            break;
        }
        pos = past_line_end(r, e, n, &local);
    }
    *ends = local;
    return result;
}

/* The bytes of spans[0:count] of r[0:n] joined by LF. */
static PyObject *
joined_spans(const char *r, Py_ssize_t n, const Span *spans, Py_ssize_t count)
{
    if (count == 1) {
        return PyBytes_FromStringAndSize(r + spans[0].start, spans[0].stop - spans[0].start);
    }
    Py_ssize_t size = count ? count - 1 : 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        size += spans[i].stop - spans[i].start;
    }
    PyObject *joined = PyBytes_FromStringAndSize(NULL, size);
    if (joined != NULL && count) {
        char *out = PyBytes_AsString(joined), *out_end = out + size;
        for (Py_ssize_t i = 0; i < count; i++) {
            if (i) {
                *out++ = '\n';
            }
            Py_ssize_t len = spans[i].stop - spans[i].start;
            /* A short value is copied as 16 bytes when both sides have them: one load and one
             * store instead of a call; what lands past it is overwritten by what follows. */
            if (len <= 16 && out_end - out >= 16 && n - spans[i].start >= 16) {
                memcpy(out, r + spans[i].start, 16);
            }
            else {
                memcpy(out, r + spans[i].start, (size_t)len);
            }
            out += len;
        }
    }
    return joined;
}

static PyObject *
find_frames(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "find_frames() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (!PyBytes_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "find_frames() argument 1 must be bytes");
        return NULL;
    }
    char *r;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(args[0], &r, &n) < 0) {
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (pos < 0 || pos > n) {
        PyErr_SetString(PyExc_ValueError, "find_frames() start out of range");
        return NULL;
    }

    /* The data spans of every frame read: the run's standard payloads are spans[0:count], and
     * those of the frame the run stopped at (when it is complete) follow them. */
    Spans spans;
    spans.items = spans.local;
    spans.count = 0;
    spans.cap = LOCAL_SPANS;
    Ends ends;
    ends_start(&ends, r, pos, n);
    Py_ssize_t count = 0, next = -1;
    while (pos < n) {
        next = parse_frame(r, pos, n, &ends, &spans);
        if (next == -2) {
            if (spans.items != spans.local) {
                PyMem_Free(spans.items);
            }
            return PyErr_NoMemory();
        }
        if (next < 0) {
            spans.count = count; /* the unfinished frame's spans go */
            break;
        }
        Py_ssize_t ndata = spans.count - count;
        if (ndata == 0) { /* dispatches nothing */
            pos = next;
            next = -1;
            continue;
        }
        const Span *first = &spans.items[count];
        if (ndata > 1 || first->stop == first->start ||
            (r[first->start] != '{' && r[first->start] != '[')) {
            break; /* not standard: the run ends where it starts */
        }
        count++;
        pos = next;
        next = -1;
    }
    PyObject *joined = joined_spans(r, n, spans.items, count);
    if (count == 1 && pos == n) { /* one standard frame up to the end: its payload alone */
        if (spans.items != spans.local) {
            PyMem_Free(spans.items);
        }
        return joined;
    }
    PyObject *odd_end, *odd;
    if (pos < n && next >= 0) {
        odd_end = PyLong_FromSsize_t(next);
        odd = joined_spans(r, n, spans.items + count, spans.count - count);
    }
    else {
        odd_end = Py_NewRef(Py_None);
        odd = Py_NewRef(Py_None);
    }
    if (spans.items != spans.local) {
        PyMem_Free(spans.items);
    }
    PyObject *result = NULL, *count_obj = PyLong_FromSsize_t(count);
    PyObject *end_obj = PyLong_FromSsize_t(pos);
    if (joined != NULL && odd_end != NULL && odd != NULL && count_obj != NULL && end_obj != NULL) {
        result = PyTuple_Pack(5, joined, count_obj, end_obj, odd_end, odd);
    }
    Py_XDECREF(joined);
    Py_XDECREF(count_obj);
    Py_XDECREF(end_obj);
    Py_XDECREF(odd_end);
    Py_XDECREF(odd);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"find_frames", (PyCFunction)(void (*)(void))find_frames, METH_FASTCALL,
     "find_frames(buf, start, /)\n--\n\n"
     "The frames at buf[start:]: (joined standard payloads, count, end, end of the frame\n"
     "after the run or None, its payload or None). See streamtape.sse._py_find_frames."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot speedups_slots[] = {
    {0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "streamtape._speedups",
    .m_doc = "The SSE decoder's fast path in C (optional: streamtape.sse falls back to Python).",
    .m_size = 0,
    .m_methods = speedups_methods,
    .m_slots = speedups_slots,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
