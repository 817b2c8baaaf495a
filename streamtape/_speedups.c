/* The SSE parser's fast path in C: `streamtape.sse.SSEParser.feed_payloads` for CR-free input.
 *
 * `FastPath` is the base class of `SSEParser` when this module is built. It holds the parser
 * state the fast path touches (the queued tail, the stream offset, ...) as attributes shared with
 * the Python exact parser, and implements exactly what `streamtape.sse._PyFastPath` does in
 * Python: queue bytes until a blank line, then return one standard frame's payload, or a batch of
 * standard frames' payloads joined by LF, or hand the region to the exact parser. Anything
 * unusual is delegated to the Python methods `_special_feed`, `_batch` and `_mixed`, so the two
 * implementations give the same items for every input (tests run both).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    Py_ssize_t offset;      /* _offset: stream offset of the first byte not yet split */
    Py_ssize_t last_offset; /* last_offset: offset of the frame of the last single payload */
    PyObject *tail;         /* _tail: bytearray, bytes after the last frame end */
    PyObject *comments;     /* _comments: list of comment lines of the frame being parsed */
    PyObject *retry;        /* _retry: int or None */
    char special;           /* _special: the exact parser must see the next bytes */
} FastPath;

static PyObject *str_special_feed, *str_batch, *str_mixed;

/* Offset of the last "\n\n" in buf[from:n], or -1. */
static Py_ssize_t
rfind_blank(const char *buf, Py_ssize_t from, Py_ssize_t n)
{
    for (Py_ssize_t i = n - 2; i >= from; i--) {
        if (buf[i + 1] == '\n' && buf[i] == '\n') {
            return i;
        }
    }
    return -1;
}

/* Whether buf[0:n] is one standard frame, `(?:event:.*\n)?data: ?(.*)\n\n` (`.` any byte but
 * LF); sets the payload's span. buf ends with "\n\n". */
static int
single_frame(const char *buf, Py_ssize_t n, Py_ssize_t *start, Py_ssize_t *end)
{
    Py_ssize_t pos = 0;
    if (n >= 6 && memcmp(buf, "event:", 6) == 0) {
        const char *nl = memchr(buf + 6, '\n', (size_t)(n - 6));
        pos = nl - buf + 1; /* found: buf ends with LF */
    }
    if (n - pos < 5 || memcmp(buf + pos, "data:", 5) != 0) {
        return 0;
    }
    pos += 5;
    if (pos < n && buf[pos] == ' ') {
        pos++;
    }
    const char *nl = memchr(buf + pos, '\n', (size_t)(n - pos));
    if (nl == NULL || nl - buf != n - 2) {
        return 0;
    }
    *start = pos;
    *end = n - 2;
    return 1;
}

/* Join the payloads of region r[0:n] (ending in "\n\n", at a frame boundary) by LF into out when
 * the region is only standard frames `(?:event:.*\n)?data: ?[{[].*\n\n`; return the joined
 * length and set *count, or -1 when any frame is not standard. out holds at least n bytes. */
static Py_ssize_t
join_payloads(const char *r, Py_ssize_t n, char *out, Py_ssize_t *count)
{
    Py_ssize_t pos = 0, o = 0, c = 0;
    while (pos < n) {
        if (n - pos >= 6 && memcmp(r + pos, "event:", 6) == 0) {
            const char *nl = memchr(r + pos + 6, '\n', (size_t)(n - pos - 6));
            if (nl == NULL) {
                return -1;
            }
            pos = nl - r + 1;
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
        const char *nl = memchr(r + pos, '\n', (size_t)(n - pos));
        if (nl == NULL) {
            return -1;
        }
        Py_ssize_t end = nl - r;
        if (end + 1 >= n || r[end + 1] != '\n') {
            return -1;
        }
        if (c) {
            out[o++] = '\n';
        }
        memcpy(out + o, r + pos, (size_t)(end - pos));
        o += end - pos;
        c++;
        pos = end + 2;
    }
    *count = c;
    return o;
}

static int
append(PyObject *tail, const char *buf, Py_ssize_t n)
{
    if (n == 0) {
        return 0;
    }
    Py_ssize_t size = PyByteArray_GET_SIZE(tail);
    if (PyByteArray_Resize(tail, size + n) < 0) {
        return -1;
    }
    memcpy(PyByteArray_AS_STRING(tail) + size, buf, (size_t)n);
    return 0;
}

/* Items for region (a bytes object of several frames, or one unusual one). */
static PyObject *
frames(FastPath *self, PyObject *region)
{
    Py_ssize_t n = PyBytes_GET_SIZE(region), count = 0;
    PyObject *lines = PyBytes_FromStringAndSize(NULL, n);
    if (lines == NULL) {
        return NULL;
    }
    Py_ssize_t size = join_payloads(PyBytes_AS_STRING(region), n, PyBytes_AS_STRING(lines), &count);
    if (size < 0) {
        Py_DECREF(lines);
        return PyObject_CallMethodOneArg((PyObject *)self, str_mixed, region);
    }
    if (_PyBytes_Resize(&lines, size) < 0) {
        return NULL;
    }
    PyObject *number = PyLong_FromSsize_t(count);
    if (number == NULL) {
        Py_DECREF(lines);
        return NULL;
    }
    PyObject *batch =
        PyObject_CallMethodObjArgs((PyObject *)self, str_batch, region, lines, number, NULL);
    Py_DECREF(number);
    Py_DECREF(lines);
    if (batch == NULL) {
        return NULL;
    }
    PyObject *out = PyList_New(1);
    if (out == NULL) {
        Py_DECREF(batch);
        return NULL;
    }
    PyList_SET_ITEM(out, 0, batch);
    return out;
}

/* The frame of buf[0:cut] is done: a single payload, or NULL with *is_single 0. */
static PyObject *
single(FastPath *self, const char *buf, Py_ssize_t cut, int *is_single)
{
    Py_ssize_t start, end;
    *is_single = single_frame(buf, cut, &start, &end);
    if (!*is_single) {
        return NULL;
    }
    PyObject *payload = PyBytes_FromStringAndSize(buf + start, end - start);
    if (payload == NULL) {
        return NULL;
    }
    PyObject *out = PyList_New(1);
    if (out == NULL) {
        Py_DECREF(payload);
        return NULL;
    }
    PyList_SET_ITEM(out, 0, payload);
    return out;
}

/* After a single payload: move the offsets on; comments and retry belonged to that frame. */
static int
took_single(FastPath *self, Py_ssize_t cut)
{
    self->last_offset = self->offset;
    self->offset += cut;
    int stale = self->retry != NULL && self->retry != Py_None;
    if (!stale && self->comments != NULL) {
        stale = PyObject_IsTrue(self->comments);
        if (stale < 0) {
            return -1;
        }
    }
    if (stale) {
        PyObject *empty = PyList_New(0);
        if (empty == NULL) {
            return -1;
        }
        Py_XSETREF(self->comments, empty);
        Py_XSETREF(self->retry, Py_NewRef(Py_None));
    }
    return 0;
}

static PyObject *
feed_payloads(FastPath *self, PyObject *arg)
{
    PyObject *data, *region, *out = NULL;
    Py_ssize_t cut;
    int is_single;
    if (PyBytes_CheckExact(arg)) {
        data = Py_NewRef(arg);
    }
    else {
        data = PyBytes_FromObject(arg);
        if (data == NULL) {
            return NULL;
        }
    }
    PyObject *tail = self->tail;
    if (tail == NULL || !PyByteArray_CheckExact(tail)) {
        Py_DECREF(data);
        PyErr_SetString(PyExc_TypeError, "SSEParser._tail must be a bytearray");
        return NULL;
    }
    const char *buf = PyBytes_AS_STRING(data);
    Py_ssize_t n = PyBytes_GET_SIZE(data);
    if (self->special || memchr(buf, '\r', (size_t)n) != NULL) {
        out = PyObject_CallMethodOneArg((PyObject *)self, str_special_feed, data);
        Py_DECREF(data);
        return out;
    }
    Py_ssize_t tlen = PyByteArray_GET_SIZE(tail);
    if (tlen) {
        const char *lf = memchr(buf, '\n', (size_t)n);
        if (lf == NULL) {
            goto queue_all;
        }
        Py_ssize_t line_end = lf - buf;
        Py_ssize_t end = rfind_blank(buf, line_end, n);
        if (end >= 0) {
            cut = tlen + end + 2;
        }
        else if (line_end == 0 && PyByteArray_AS_STRING(tail)[tlen - 1] == '\n') {
            cut = tlen + 1;
        }
        else {
            goto queue_all;
        }
        if (append(tail, buf, n) < 0) {
            goto done;
        }
        Py_DECREF(data);
        data = NULL;
        out = single(self, PyByteArray_AS_STRING(tail), cut, &is_single);
        if (out == NULL && (PyErr_Occurred() || is_single)) {
            return NULL;
        }
        region = NULL;
        if (out == NULL) {
            region = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(tail), cut);
            if (region == NULL) {
                return NULL;
            }
        }
        /* a bytearray drops its head in place */
        if (PySequence_DelSlice(tail, 0, cut) < 0) {
            Py_XDECREF(out);
            Py_XDECREF(region);
            return NULL;
        }
        if (out != NULL) {
            if (took_single(self, cut) < 0) {
                Py_CLEAR(out);
            }
            return out;
        }
        out = frames(self, region);
        Py_DECREF(region);
        return out;
    }
    if (n >= 2 && buf[n - 2] == '\n' && buf[n - 1] == '\n') {
        cut = n; /* a live stream's usual read: whole frames */
    }
    else {
        Py_ssize_t end = rfind_blank(buf, 0, n);
        if (end < 0) {
            goto queue_all;
        }
        cut = end + 2;
        if (append(tail, buf + cut, n - cut) < 0) {
            goto done;
        }
    }
    out = single(self, buf, cut, &is_single);
    if (out != NULL) {
        if (took_single(self, cut) < 0) {
            Py_CLEAR(out);
        }
        goto done;
    }
    if (is_single) {
        goto done;
    }
    region = cut == n ? Py_NewRef(data) : PyBytes_FromStringAndSize(buf, cut);
    if (region != NULL) {
        out = frames(self, region);
        Py_DECREF(region);
    }
    goto done;
queue_all:
    if (append(tail, buf, n) == 0) {
        out = PyList_New(0);
    }
done:
    Py_XDECREF(data);
    return out;
}

static int
FastPath_traverse(FastPath *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->tail);
    Py_VISIT(self->comments);
    Py_VISIT(self->retry);
    return 0;
}

static int
FastPath_clear(FastPath *self)
{
    Py_CLEAR(self->tail);
    Py_CLEAR(self->comments);
    Py_CLEAR(self->retry);
    return 0;
}

static void
FastPath_dealloc(FastPath *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    FastPath_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyMethodDef FastPath_methods[] = {
    {"feed_payloads", (PyCFunction)feed_payloads, METH_O,
     "Like `feed`, but return standard frames as raw payload bytes (the decoder's fast path)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef FastPath_members[] = {
    {"_offset", T_PYSSIZET, offsetof(FastPath, offset), 0, NULL},
    {"last_offset", T_PYSSIZET, offsetof(FastPath, last_offset), 0,
     "Offset of the frame whose payload `feed_payloads` last returned alone."},
    {"_tail", T_OBJECT, offsetof(FastPath, tail), 0, NULL},
    {"_comments", T_OBJECT, offsetof(FastPath, comments), 0, NULL},
    {"_retry", T_OBJECT, offsetof(FastPath, retry), 0, NULL},
    {"_special", T_BOOL, offsetof(FastPath, special), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot FastPath_slots[] = {
    {Py_tp_doc, "State and `feed_payloads` of the SSE parser's fast path (C)."},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_dealloc, FastPath_dealloc},
    {Py_tp_traverse, FastPath_traverse},
    {Py_tp_clear, FastPath_clear},
    {Py_tp_methods, FastPath_methods},
    {Py_tp_members, FastPath_members},
    {0, NULL},
};

static PyType_Spec FastPath_spec = {
    .name = "streamtape._speedups.FastPath",
    .basicsize = sizeof(FastPath),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = FastPath_slots,
};

static int
speedups_exec(PyObject *module)
{
    str_special_feed = PyUnicode_InternFromString("_special_feed");
    str_batch = PyUnicode_InternFromString("_batch");
    str_mixed = PyUnicode_InternFromString("_mixed");
    if (str_special_feed == NULL || str_batch == NULL || str_mixed == NULL) {
        return -1;
    }
    PyObject *type = PyType_FromSpec(&FastPath_spec);
    if (type == NULL) {
        return -1;
    }
    if (PyModule_AddObject(module, "FastPath", type) < 0) {
        Py_DECREF(type);
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot speedups_slots[] = {
    {Py_mod_exec, speedups_exec},
    {0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "streamtape._speedups",
    .m_doc = "The SSE parser's fast path in C (optional: streamtape.sse falls back to Python).",
    .m_size = 0,
    .m_slots = speedups_slots,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
