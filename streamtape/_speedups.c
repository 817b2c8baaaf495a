/* The SSE decoder's fast path in C: `find_frames`, the same function as
 * `streamtape.sse._py_find_frames` (its docstring is the contract; the tests compare the two on
 * every input they generate).
 *
 * It is stateless: it reads one `bytes` object from `start`, matches standard frames only at
 * frame starts, and stops at the first other frame, returning where that one ends. The parser
 * (Python) keeps all state. Only the limited C API (3.10) is used, so one abi3 build serves every
 * CPython from 3.10 on.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* Offset of the LF ending the line that starts at r[pos], or -1 when there is none or a CR comes
 * before it. */
static Py_ssize_t
line_end(const char *r, Py_ssize_t pos, Py_ssize_t n)
{
    const char *nl = memchr(r + pos, '\n', (size_t)(n - pos));
    if (nl == NULL || memchr(r + pos, '\r', (size_t)(nl - r - pos)) != NULL) {
        return -1;
    }
    return nl - r;
}

/* The standard frame at r[pos] (a frame boundary) in r[0:n]:
 * `(?:event:[^\r\n]*\n)?data: ?([{[][^\r\n]*)\n(?:event:[^\r\n]*\n)?\n` (the event line after
 * the data line is AWS Bedrock's order). Sets the payload's span [*start, *stop) and returns the
 * offset just past the frame, or -1 when the bytes at pos are not such a frame. It reads only the
 * lines of the frame at pos. */
static Py_ssize_t
parse_frame(const char *r, Py_ssize_t pos, Py_ssize_t n, Py_ssize_t *start, Py_ssize_t *stop)
{
    Py_ssize_t nl;
    if (n - pos >= 6 && memcmp(r + pos, "event:", 6) == 0) {
        if ((nl = line_end(r, pos + 6, n)) < 0) {
            return -1;
        }
        pos = nl + 1;
    }
    if (n - pos < 5 || memcmp(r + pos, "data:", 5) != 0) {
        return -1;
    }
    pos += 5;
    if (pos < n && r[pos] == ' ') {
        pos++;
    }
    if (pos >= n || (r[pos] != '{' && r[pos] != '[')) {
        return -1;
    }
    Py_ssize_t data_end = line_end(r, pos, n);
    if (data_end < 0) {
        return -1;
    }
    Py_ssize_t next = data_end + 1;
    if (n - next >= 6 && memcmp(r + next, "event:", 6) == 0) {
        if ((nl = line_end(r, next + 6, n)) < 0) {
            return -1;
        }
        next = nl + 1;
    }
    if (next >= n || r[next] != '\n') {
        return -1;
    }
    *start = pos;
    *stop = data_end;
    return next + 1;
}

/* Offset just past the blank line ending the frame at r[pos] (a line start), or -1. */
static Py_ssize_t
frame_end(const char *r, Py_ssize_t pos, Py_ssize_t n)
{
    if (pos < n && r[pos] == '\n') {
        return pos + 1;
    }
    while (pos < n - 1) {
        const char *nl = memchr(r + pos, '\n', (size_t)(n - 1 - pos));
        if (nl == NULL) {
            break;
        }
        pos = nl - r + 1;
        if (r[pos] == '\n') {
            return pos + 1;
        }
    }
    return -1;
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

    /* the run: each frame's payload span, then one copy into the joined bytes */
    Span local[LOCAL_SPANS], *spans = local;
    Py_ssize_t cap = LOCAL_SPANS, count = 0, size = 0, start, stop, next;
    while ((next = parse_frame(r, pos, n, &start, &stop)) >= 0) {
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

    /* the frame after the run, if it is complete: through its blank line */
    Py_ssize_t odd = pos < n ? frame_end(r, pos, n) : -1;
    PyObject *result = PyTuple_New(4), *item;
    if (result == NULL) {
        Py_DECREF(joined);
        return NULL;
    }
    PyTuple_SetItem(result, 0, joined); /* steals; cannot fail on a new tuple */
    if ((item = PyLong_FromSsize_t(count)) == NULL || PyTuple_SetItem(result, 1, item) < 0 ||
        (item = PyLong_FromSsize_t(pos)) == NULL || PyTuple_SetItem(result, 2, item) < 0) {
        Py_DECREF(result);
        return NULL;
    }
    if (odd < 0) {
        Py_INCREF(Py_None);
        item = Py_None;
    }
    else if ((item = PyLong_FromSsize_t(odd)) == NULL) {
        Py_DECREF(result);
        return NULL;
    }
    if (PyTuple_SetItem(result, 3, item) < 0) {
        Py_DECREF(result);
        return NULL;
    }
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"find_frames", (PyCFunction)(void (*)(void))find_frames, METH_FASTCALL,
     "find_frames(buf, start, /)\n--\n\n"
     "The run of standard SSE frames at buf[start:] and where the frame after it ends:\n"
     "(joined payloads, count, end, odd end or None). See streamtape.sse._py_find_frames."},
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
