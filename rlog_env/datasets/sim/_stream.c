/* The simulator's per-sample stream of uniform floats, in C.
 *
 * ``seeded(entropy)`` returns what ``np.random.default_rng(np.random.SeedSequence(entropy))``
 * would be for the simulator's use, and ``Stream.random(n)`` what that generator's
 * ``random(n).tolist()`` returns, bit for bit:
 *
 * - NumPy's SeedSequence: the entropy ints as little-endian uint32 words, mixed into a pool of
 *   four words (``mix_entropy``), and ``generate_state(4, np.uint64)`` from the pool;
 * - PCG64 seeded with those words (``pcg64_set_seed``: state = words 0-1, increment = words 2-3)
 *   and its XSL-RR output of the 128-bit LCG;
 * - ``Generator.random``'s doubles: the top 53 bits of each 64-bit output times 2**-53.
 *
 * Each step is a documented algorithm of NumPy's (numpy/random/bit_generator.pyx, pcg64.h). The
 * Python side (seeding.py) checks this module against NumPy once per process and uses NumPy
 * itself whenever the module is missing or disagrees. Built by setup.py as an optional
 * extension: it needs a C compiler with 128-bit integers (gcc, clang).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

typedef unsigned __int128 u128;

#define POOL_SIZE 4
#define MAX_WORDS 64
#define INIT_A 0x43b0d7e5u
#define MULT_A 0x931e8875u
#define INIT_B 0x8b51f9ddu
#define MULT_B 0x58f38dedu
#define MIX_MULT_L 0xca01f9ddu
#define MIX_MULT_R 0x4973f715u
#define XSHIFT 16

static const u128 PCG_MULT = ((u128)2549297995355413924ULL << 64) | 4865540595714422341ULL;

static inline uint32_t hashmix(uint32_t value, uint32_t *hash_const)
{
    value ^= *hash_const;
    *hash_const *= MULT_A;
    value *= *hash_const;
    value ^= value >> XSHIFT;
    return value;
}

static inline uint32_t mix(uint32_t x, uint32_t y)
{
    uint32_t result = MIX_MULT_L * x - MIX_MULT_R * y;
    result ^= result >> XSHIFT;
    return result;
}

typedef struct {
    PyObject_HEAD
    u128 state;
    u128 inc;
} StreamObject;

static PyObject *
Stream_random(StreamObject *self, PyObject *arg)
{
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n < 0) {
        PyErr_Format(PyExc_ValueError, "random(n) expects n >= 0, got %zd", n);
        return NULL;
    }
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    u128 state = self->state;
    for (Py_ssize_t i = 0; i < n; i++) {
        state = state * PCG_MULT + self->inc;
        uint64_t x = (uint64_t)(state >> 64) ^ (uint64_t)state;
        unsigned rot = (unsigned)(state >> 122);
        x = (x >> rot) | (x << ((64 - rot) & 63));
        PyObject *value = PyFloat_FromDouble((double)(x >> 11) * (1.0 / 9007199254740992.0));
        if (value == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, value);
    }
    self->state = state;
    return out;
}

static PyMethodDef Stream_methods[] = {
    {"random", (PyCFunction)Stream_random, METH_O,
     "random(n): the next n uniform floats in [0, 1), as a list."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject StreamType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rlog_env.datasets.sim._stream.Stream",
    .tp_doc = "A PCG64 stream seeded as NumPy seeds it from a SeedSequence; see seeded().",
    .tp_basicsize = sizeof(StreamObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = Stream_methods,
};

/* The uint32 words SeedSequence makes of one non-negative int (little-endian, 0 as one word). */
static int
append_words(PyObject *item, uint32_t *words, Py_ssize_t *count)
{
    PyObject *number = PyNumber_Index(item);  /* ints and NumPy integers; TypeError otherwise */
    if (number == NULL)
        return -1;
    unsigned long long value = PyLong_AsUnsignedLongLong(number);  /* OverflowError if < 0 or >= 2**64 */
    Py_DECREF(number);
    if (value == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    do {
        if (*count >= MAX_WORDS) {
            PyErr_SetString(PyExc_OverflowError, "entropy too long for the C stream");
            return -1;
        }
        words[(*count)++] = (uint32_t)value;
        value >>= 32;
    } while (value);
    return 0;
}

static PyObject *
seeded(PyObject *Py_UNUSED(module), PyObject *entropy)
{
    uint32_t words[MAX_WORDS];
    Py_ssize_t count = 0;
    PyObject *seq = PySequence_Fast(entropy, "entropy expects a sequence of non-negative ints");
    if (seq == NULL)
        return NULL;
    Py_ssize_t length = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < length; i++) {
        if (append_words(items[i], words, &count) < 0) {
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);

    /* SeedSequence.mix_entropy into a pool of four words. */
    uint32_t pool[POOL_SIZE];
    uint32_t hash_const = INIT_A;
    for (int i = 0; i < POOL_SIZE; i++)
        pool[i] = hashmix(i < count ? words[i] : 0, &hash_const);
    for (int src = 0; src < POOL_SIZE; src++)
        for (int dst = 0; dst < POOL_SIZE; dst++)
            if (src != dst)
                pool[dst] = mix(pool[dst], hashmix(pool[src], &hash_const));
    for (Py_ssize_t src = POOL_SIZE; src < count; src++)
        for (int dst = 0; dst < POOL_SIZE; dst++)
            pool[dst] = mix(pool[dst], hashmix(words[src], &hash_const));

    /* SeedSequence.generate_state(4, np.uint64): eight uint32 words, read as four uint64. */
    uint64_t seed[4];
    uint32_t hash_b = INIT_B;
    for (int k = 0; k < 8; k++) {
        uint32_t value = pool[k % POOL_SIZE] ^ hash_b;
        hash_b *= MULT_B;
        value *= hash_b;
        value ^= value >> XSHIFT;
        if (k % 2 == 0)
            seed[k / 2] = value;
        else
            seed[k / 2] |= (uint64_t)value << 32;
    }

    StreamObject *stream = PyObject_New(StreamObject, &StreamType);
    if (stream == NULL)
        return NULL;
    /* pcg64_set_seed, then pcg_setseq_128_srandom_r. */
    u128 initstate = ((u128)seed[0] << 64) | seed[1];
    u128 initseq = ((u128)seed[2] << 64) | seed[3];
    stream->inc = (initseq << 1) | 1;
    stream->state = stream->inc;  /* a step from state 0 */
    stream->state += initstate;
    stream->state = stream->state * PCG_MULT + stream->inc;
    return (PyObject *)stream;
}

static PyMethodDef module_methods[] = {
    {"seeded", seeded, METH_O,
     "seeded(entropy): the stream of np.random.default_rng(np.random.SeedSequence(entropy)), for "
     "a sequence of ints in [0, 2**64)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_stream",
    .m_doc = "The simulator's per-sample uniform stream in C (NumPy's SeedSequence, PCG64 and random()).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__stream(void)
{
    if (PyType_Ready(&StreamType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
    Py_INCREF(&StreamType);
    if (PyModule_AddObject(module, "Stream", (PyObject *)&StreamType) < 0) {
        Py_DECREF(&StreamType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
