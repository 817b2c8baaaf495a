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

/* The frame at r[pos] (a frame start) in r[0:n]: returns the offset just past its blank line, or
 * -1 when the buffer ends before it. Sets *ndata to the number of its `data` lines, [*start,
 * *stop) to the first one's value and *size to the size of its payload (the values joined by
 * LF). Reads only the frame's own lines. */
static Py_ssize_t
parse_frame(const char *r, Py_ssize_t pos, Py_ssize_t n, Py_ssize_t *ndata, Py_ssize_t *start,
            Py_ssize_t *stop, Py_ssize_t *size)
{
    *ndata = 0;
    *size = -1;
    while (pos < n) {
        Py_ssize_t e = line_end(r, pos, n);
        if (e == n) {
            return -1;
        }
        if (e == pos) {
            return past_line_end(r, e, n);
        }
        Py_ssize_t v = data_value(r, pos, e);
        if (v >= 0) {
            if ((*ndata)++ == 0) {
                *start = v;
                *stop = e;
            }
            *size += e - v + 1;
        }
        pos = past_line_end(r, e, n);
    }
    return -1;
}

/* The payload of the whole frame r[pos:end] (found by parse_frame, which gave its size): its
 * `data` values joined by LF, as the spec builds the data buffer. */
static PyObject *
frame_payload(const char *r, Py_ssize_t pos, Py_ssize_t end, Py_ssize_t size)
{
    PyObject *payload = PyBytes_FromStringAndSize(NULL, size);
    if (payload == NULL) {
        return NULL;
    }
    char *out = PyBytes_AsString(payload);
    int first = 1;
    for (Py_ssize_t e, v; (e = line_end(r, pos, end)) > pos; pos = past_line_end(r, e, end)) {
        if ((v = data_value(r, pos, e)) >= 0) {
            if (!first) {
                *out++ = '\n';
            }
            first = 0;
            memcpy(out, r + v, (size_t)(e - v));
            out += e - v;
        }
    }
    return payload;
}

typedef struct {
    Py_ssize_t start, stop;
} Span;

#define LOCAL_SPANS 64

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

    /* the run: each standard frame's payload span, then one copy into the joined bytes */
    Span local[LOCAL_SPANS], *spans = local;
    Py_ssize_t cap = LOCAL_SPANS, count = 0, size = 0, ndata = 0, start = 0, stop = 0, odd_size;
    Py_ssize_t next = -1;
    while (pos < n && (next = parse_frame(r, pos, n, &ndata, &start, &stop, &odd_size)) >= 0) {
        if (ndata == 0) { /* dispatches nothing */
            pos = next;
            next = -1;
            continue;
        }
        if (ndata > 1 || stop == start || (r[start] != '{' && r[start] != '[')) {
            break; /* not standard: the run ends where it starts */
        }
        if (count == cap) {
            Span *grown = spans == local ? PyMem_Malloc(2 * (size_t)cap * sizeof(Span))
                                         : PyMem_Realloc(spans, 2 * (size_t)cap * sizeof(Span));
            if (grown == NULL) {
                if (spans != local) {
                    PyMem_Free(spans);
                }
                return PyErr_NoMemory();
            }
            if (spans == local) {
                memcpy(grown, local, sizeof(local));
            }
            spans = grown;
            cap *= 2;
        }
        spans[count].start = start;
        spans[count].stop = stop;
        size += stop - start;
        count++;
        pos = next;
        next = -1;
    }
    PyObject *joined;
    if (count == 1) {
        joined = PyBytes_FromStringAndSize(r + spans[0].start, size);
    }
    else {
        joined = PyBytes_FromStringAndSize(NULL, count ? size + count - 1 : 0);
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
    }
    if (spans != local) {
        PyMem_Free(spans);
    }
    if (joined == NULL) {
        return NULL;
    }

    /* the frame the run stopped at, when it is complete: where it ends, and its payload */
    PyObject *odd_end, *odd;
    if (pos < n && next >= 0) {
        odd_end = PyLong_FromSsize_t(next);
        odd = ndata == 1 ? PyBytes_FromStringAndSize(r + start, stop - start)
                         : frame_payload(r, pos, next, odd_size);
    }
    else {
        odd_end = Py_NewRef(Py_None);
        odd = Py_NewRef(Py_None);
    }
    PyObject *result = NULL, *count_obj = PyLong_FromSsize_t(count);
    PyObject *end_obj = PyLong_FromSsize_t(pos);
    if (odd_end != NULL && odd != NULL && count_obj != NULL && end_obj != NULL) {
        result = PyTuple_Pack(5, joined, count_obj, end_obj, odd_end, odd);
    }
    Py_DECREF(joined);
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
