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

/* A region of more bytes than this that completes queued bytes is copied once, straight from
   the queue and the new data; smaller ones are queued first (no extra allocation). */
#define BIG_REGION 1024

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

/* The standard frame at r[pos] (a frame boundary), `(?:event:.*\n)?data: ?(.*)\n(?:event:.*\n)?\n`
 * (`.` any byte but LF; the event line after the data line is AWS Bedrock's order), its payload
 * opening `{` or `[` when json_only: sets the payload's span and returns the offset just past
 * the frame, or -1 when the bytes at pos are not such a frame. */
static Py_ssize_t
parse_frame(const char *r, Py_ssize_t pos, Py_ssize_t n, int json_only, Py_ssize_t *start,
            Py_ssize_t *stop)
{
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
    if (json_only && (pos >= n || (r[pos] != '{' && r[pos] != '['))) {
        return -1;
    }
    const char *nl = memchr(r + pos, '\n', (size_t)(n - pos));
    if (nl == NULL) {
        return -1;
    }
    Py_ssize_t next = nl - r + 1;
    if (n - next >= 6 && memcmp(r + next, "event:", 6) == 0) {
        const char *after = memchr(r + next + 6, '\n', (size_t)(n - next - 6));
        if (after == NULL) {
            return -1;
        }
        next = after - r + 1;
    }
    if (next >= n || r[next] != '\n') {
        return -1;
    }
    *start = pos;
    *stop = nl - r;
    return next + 1;
}

/* Join by LF into out the payloads of the run of standard frames with JSON payloads that starts
 * at r[pos] (a frame boundary) and stops at the first other frame or at r[n]. Returns the
 * joined length; sets *count and *end (where the run stops). out holds at least n - pos bytes. */
static Py_ssize_t
join_run(const char *r, Py_ssize_t pos, Py_ssize_t n, char *out, Py_ssize_t *count,
         Py_ssize_t *end)
{
    Py_ssize_t o = 0, c = 0, start, stop, next;
    while (pos < n && (next = parse_frame(r, pos, n, 1, &start, &stop)) >= 0) {
        if (c) {
            out[o++] = '\n';
        }
        memcpy(out + o, r + start, (size_t)(stop - start));
        o += stop - start;
        c++;
        pos = next;
    }
    *count = c;
    *end = pos;
    return o;
}

/* Offset just past the first "\n\n" in r[pos:n], or n. */
static Py_ssize_t
frame_end(const char *r, Py_ssize_t pos, Py_ssize_t n)
{
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
    return n;
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

/* region[start:stop] as bytes (region itself when that is all of it). */
static PyObject *
part(PyObject *region, Py_ssize_t start, Py_ssize_t stop)
{
    if (start == 0 && stop == PyBytes_GET_SIZE(region)) {
        return Py_NewRef(region);
    }
    return PyBytes_FromStringAndSize(PyBytes_AS_STRING(region) + start, stop - start);
}

/* Append to out the batch of the standard run at region[pos:], if any; return where it stops. */
static Py_ssize_t
add_run(FastPath *self, PyObject *region, Py_ssize_t pos, PyObject *out)
{
    Py_ssize_t n = PyBytes_GET_SIZE(region), count, stop, start;
    if (parse_frame(PyBytes_AS_STRING(region), pos, n, 1, &start, &stop) < 0) {
        return pos; /* no run here: nothing to allocate */
    }
    PyObject *lines = PyBytes_FromStringAndSize(NULL, n - pos);
    if (lines == NULL) {
        return -1;
    }
    Py_ssize_t size =
        join_run(PyBytes_AS_STRING(region), pos, n, PyBytes_AS_STRING(lines), &count, &stop);
    PyObject *run = NULL, *number = NULL, *batch = NULL;
    if (_PyBytes_Resize(&lines, size) < 0) {
        return -1;
    }
    if ((run = part(region, pos, stop)) != NULL && (number = PyLong_FromSsize_t(count)) != NULL) {
        batch = PyObject_CallMethodObjArgs((PyObject *)self, str_batch, run, lines, number, NULL);
    }
    Py_XDECREF(run);
    Py_XDECREF(number);
    Py_DECREF(lines);
    if (batch == NULL || PyList_Append(out, batch) < 0) {
        Py_XDECREF(batch);
        return -1;
    }
    Py_DECREF(batch);
    return stop;
}

/* Items for region (CR-free, ending in a blank line): each run of standard frames as a batch,
 * every other frame through the exact parser (`_mixed`), in stream order. */
static PyObject *
frames(FastPath *self, PyObject *region)
{
    Py_ssize_t n = PyBytes_GET_SIZE(region), pos = 0;
    PyObject *out = PyList_New(0);
    while (out != NULL && pos < n) {
        pos = add_run(self, region, pos, out);
        if (pos < 0) {
            Py_CLEAR(out);
            break;
        }
        if (pos == n) {
            break;
        }
        /* an unusual frame: the exact parser takes it, through its blank line */
        Py_ssize_t stop = frame_end(PyBytes_AS_STRING(region), pos, n);
        PyObject *odd = part(region, pos, stop), *items = NULL;
        if (odd != NULL) {
            items = PyObject_CallMethodOneArg((PyObject *)self, str_mixed, odd);
            Py_DECREF(odd);
        }
        if (items == NULL || PyList_SetSlice(out, PY_SSIZE_T_MAX, PY_SSIZE_T_MAX, items) < 0) {
            Py_XDECREF(items);
            Py_CLEAR(out);
            break;
        }
        Py_DECREF(items);
        pos = stop;
    }
    return out;
}

/* The frame of buf[0:cut] is done: a single payload, or NULL with *is_single 0. */
static PyObject *
single(const char *buf, Py_ssize_t cut, int *is_single)
{
    Py_ssize_t start, end;
    *is_single = parse_frame(buf, 0, cut, 0, &start, &end) == cut;
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
        if (cut > BIG_REGION) {
            /* copy the region once, from the tail and the data, instead of into the tail and
               out again */
            Py_ssize_t head = cut - tlen;
            region = PyBytes_FromStringAndSize(NULL, cut);
            if (region == NULL) {
                goto done;
            }
            memcpy(PyBytes_AS_STRING(region), PyByteArray_AS_STRING(tail), (size_t)tlen);
            memcpy(PyBytes_AS_STRING(region) + tlen, buf, (size_t)head);
            if (PySequence_DelSlice(tail, 0, tlen) < 0 || append(tail, buf + head, n - head) < 0) {
                Py_DECREF(region);
                goto done;
            }
            Py_DECREF(data);
            data = region; /* done: releases it */
            buf = PyBytes_AS_STRING(region);
            n = cut;
            goto region_done;
        }
        if (append(tail, buf, n) < 0) {
            goto done;
        }
        Py_DECREF(data);
        data = NULL;
        out = single(PyByteArray_AS_STRING(tail), cut, &is_single);
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
region_done:
    out = single(buf, cut, &is_single);
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
