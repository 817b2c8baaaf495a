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

/* Offset of the first CR or LF at or after r[pos], or n when there is none. It reads no byte
 * past the line end it finds but a window as long as the line at most, so each line costs time
 * linear in its length, whatever follows it (a search for the next LF alone could run to the end
 * of a CR-only stream at every line).
 *
 * The first 16 bytes go eight at a time: a byte b is CR or LF when (b ^ CR) or (b ^ LF) is zero,
 * and the classic "has a zero byte" test flags a word holding one; its lowest flagged byte is
 * exact (on a little-endian machine with GCC or Clang it is taken from the flags, elsewhere the
 * bytes are looked at one by one). Longer lines are searched with memchr in windows that
 * double. */
static Py_ssize_t
line_end(const char *r, Py_ssize_t pos, Py_ssize_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    Py_ssize_t words = 0;
    for (; n - pos >= 8 && words < 2; words++, pos += 8) {
        uint64_t word, a, b, found;
        memcpy(&word, r + pos, 8);
        a = word ^ (ones * '\n');
        b = word ^ (ones * '\r');
        found = (((a - ones) & ~a) | ((b - ones) & ~b)) & highs;
        if (found) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return pos + (__builtin_ctzll(found) >> 3); /* the lowest flagged byte is exact */
#else
            break;
#endif
        }
    }
    if (words == 2) {
        for (Py_ssize_t width = 512; pos < n; width *= 2) {
            Py_ssize_t high = n - pos > width ? pos + width : n;
            const char *lf = memchr(r + pos, '\n', (size_t)(high - pos));
            const char *cr = memchr(r + pos, '\r', (size_t)((lf ? lf - r : high) - pos));
            if (cr != NULL || lf != NULL) {
                return (cr != NULL ? cr : lf) - r;
            }
            pos = high;
        }
        return n;
    }
    while (pos < n && r[pos] != '\n' && r[pos] != '\r') {
        pos++;
    }
    return pos;
}

/* Offset just past the line end at r[e] (an LF, a CR, or a CR LF pair). A CR at the end of the
 * buffer is a whole line end: an LF that may follow it is then a blank line of its own. */
static Py_ssize_t
past_line_end(const char *r, Py_ssize_t e, Py_ssize_t n)
{
    return (r[e] == '\r' && e + 1 < n && r[e + 1] == '\n') ? e + 2 : e + 1;
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
 * `data` values to *spans (the caller drops them for a frame the buffer cut). Reads only the
 * frame's own lines. */
static Py_ssize_t
parse_frame(const char *r, Py_ssize_t pos, Py_ssize_t n, Spans *spans)
{
    while (pos < n) {
        Py_ssize_t e = line_end(r, pos, n);
        if (e == n) {
            return -1;
        }
        if (e == pos) {
            return past_line_end(r, e, n);
        }
        Py_ssize_t v = data_value(r, pos, e);
        if (v >= 0 && push_span(spans, v, e) < 0) {
            return -2;
        }
        pos = past_line_end(r, e, n);
    }
    return -1;
}

/* The bytes of spans[0:count] of r joined by LF. */
static PyObject *
joined_spans(const char *r, const Span *spans, Py_ssize_t count)
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
        char *out = PyBytes_AsString(joined);
        for (Py_ssize_t i = 0; i < count; i++) {
            if (i) {
                *out++ = '\n';
            }
            memcpy(out, r + spans[i].start, (size_t)(spans[i].stop - spans[i].start));
            out += spans[i].stop - spans[i].start;
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
    Py_ssize_t count = 0, next = -1;
    while (pos < n) {
        next = parse_frame(r, pos, n, &spans);
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
    PyObject *joined = joined_spans(r, spans.items, count);
    PyObject *odd_end, *odd;
    if (pos < n && next >= 0) {
        odd_end = PyLong_FromSsize_t(next);
        odd = joined_spans(r, spans.items + count, spans.count - count);
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
