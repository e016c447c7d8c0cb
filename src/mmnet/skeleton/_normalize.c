/* The per-sample loops of pre-normalisation (mmnet.skeleton.transforms), compiled.
 *
 * Why compiled: in NumPy each step is a handful of array operations per sample and person, and
 * their overhead, not the arithmetic, was most of the skeleton stage's normalising time
 * (docs/performance.md, section 3). Every value equals the NumPy steps' bit for bit (tested):
 *   - frame and person sums (only ever compared with zero, but a sum can cancel to exactly
 *     zero in one order and not in another) are NumPy's pairwise float32 sums, in NumPy's
 *     order (pairwise_sum below); each step keeps the (N, M, T) frame sums of the values it
 *     wrote in frame_sum, so no step sums the block again;
 *   - centring is float32 subtractions and a multiplication by 0 or 1, as NumPy does them;
 *   - a rotation is, per joint and coordinate, r1 * y, then + r0 * x fused, then + r2 * z
 *     fused, in float64: what the original's np.dot(matrix, joint) computes through NumPy's
 *     BLAS (OpenBLAS's dgemv; found against np.dot itself, 0 differences in 20,000 joints).
 *     transforms.py checks it on a probe at first use and otherwise keeps NumPy's per-joint
 *     product, so another BLAS cannot change a value;
 *   - the rotation matrices come from transforms.py (NumPy's arccos and BLAS dot products).
 * Built without contraction (-ffp-contract=off in setup.py), so that no a * b + c is fused
 * where NumPy rounds twice.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define COORDS 3

typedef struct {
    Py_ssize_t n, m, t, v; /* samples, persons, frames, joints; 3 coordinates */
} Shape;

static int check(Py_buffer *buffer, Py_ssize_t items, Py_ssize_t item_size, const char *name) {
    if (buffer->len != items * item_size) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes, expected %zd", name, buffer->len,
                     items * item_size);
        return -1;
    }
    return 0;
}

/* NumPy's float32 add.reduce along a contiguous axis (numpy/_core/src/umath/loops_utils.h.src,
 * pairwise_sum): under 8 values one by one from -0.0, up to 128 in 8 interleaved accumulators
 * combined as a tree, longer ones split in two at a multiple of 8. */
static float pairwise_sum(const float *a, Py_ssize_t n) {
    if (n < 8) {
        float sum = -0.0f;
        for (Py_ssize_t i = 0; i < n; i++) sum += a[i];
        return sum;
    }
    if (n <= 128) {
        float r[8];
        for (int j = 0; j < 8; j++) r[j] = a[j];
        Py_ssize_t i = 8;
        for (; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        float sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) sum += a[i];
        return sum;
    }
    Py_ssize_t half = n / 2;
    half -= half % 8;
    return pairwise_sum(a, half) + pairwise_sum(a + half, n - half);
}

/* Whether sample i holds anything: the sum over persons of their frame sums' sums. */
static int sample_active(const float *frame_sum, Shape s, Py_ssize_t i, float *person_sum) {
    float total = -0.0f;
    for (Py_ssize_t m = 0; m < s.m; m++) {
        person_sum[m] = pairwise_sum(frame_sum + (i * s.m + m) * s.t, s.t);
        total += person_sum[m];
    }
    return total != 0;
}

/* frame_sum[p, f] = the sum of frame f of person p, for frames [first, last). */
static void sum_frames(const float *x, float *frame_sum, Shape s, Py_ssize_t p, Py_ssize_t first,
                       Py_ssize_t last) {
    Py_ssize_t frame_size = s.v * COORDS;
    for (Py_ssize_t f = first; f < last; f++)
        frame_sum[p * s.t + f] = pairwise_sum(x + (p * s.t + f) * frame_size, frame_size);
}

/* A step over a block x (N, M, T, V, 3) and its frame sums (N, M, T), both in place. Returns
 * 0, or -1 with a Python exception set. */
typedef int (*BlockStep)(float *x, float *frame_sum, Shape s);

/* step(x, (N, M, T, V), frame_sum) from Python: the buffers' sizes are checked first. */
static PyObject *run_block_step(PyObject *args, BlockStep step) {
    Py_buffer x, frame_sum;
    Shape s;
    if (!PyArg_ParseTuple(args, "w*(nnnn)w*", &x, &s.n, &s.m, &s.t, &s.v, &frame_sum))
        return NULL;
    PyObject *result = NULL;
    if (check(&x, s.n * s.m * s.t * s.v * COORDS, sizeof(float), "x") == 0 &&
        check(&frame_sum, s.n * s.m * s.t, sizeof(float), "frame_sum") == 0 &&
        step(x.buf, frame_sum.buf, s) == 0)
        result = Py_NewRef(Py_None);
    PyBuffer_Release(&x);
    PyBuffer_Release(&frame_sum);
    return result;
}

/* Every frame's sum, as x.reshape(N, M, T, -1).sum(-1). */
static int sum_all_frames(float *x, float *frame_sum, Shape s) {
    for (Py_ssize_t p = 0; p < s.n * s.m; p++) sum_frames(x, frame_sum, s, p, 0, s.t);
    return 0;
}

/* _pad_null_frames: a person whose first frame is empty has its non-empty frames moved to the
 * front, in order; then the empty tail repeats the frames before it. */
static int pad_persons(float *x, float *frame_sum, Shape s) {
    Py_ssize_t frame_size = s.v * COORDS;
    size_t frame_bytes = (size_t)frame_size * sizeof(float);
    for (Py_ssize_t p = 0; p < s.n * s.m; p++) {
        float *person = x + p * s.t * frame_size;
        float *sums = frame_sum + p * s.t;
        if (pairwise_sum(sums, s.t) == 0) continue; /* nobody in any frame */
        if (sums[0] == 0) {
            Py_ssize_t kept = 0;
            for (Py_ssize_t f = 0; f < s.t; f++) {
                if (sums[f] == 0) continue;
                if (kept != f) memcpy(person + kept * frame_size, person + f * frame_size, frame_bytes);
                sums[kept++] = sums[f];
            }
            memset(person + kept * frame_size, 0, (size_t)(s.t - kept) * frame_bytes);
            for (Py_ssize_t f = kept; f < s.t; f++) sums[f] = 0;
        }
        Py_ssize_t filled = s.t;
        while (filled > 0 && sums[filled - 1] == 0) filled--;
        if (filled == 0) continue; /* the person's total was not zero: cannot happen */
        while (filled < s.t) { /* frame_sum follows: the sums of the frames it now holds */
            Py_ssize_t step = filled < s.t - filled ? filled : s.t - filled;
            memcpy(person + filled * frame_size, person, (size_t)step * frame_bytes);
            memcpy(sums + filled, sums, (size_t)step * sizeof(float));
            filled += step;
        }
    }
    return 0;
}

/* _centre: subtract joint 1 of person 0, frame by frame, from every present person; a joint
 * whose coordinates summed to 0 before is multiplied by 0 after. */
static int centre_persons(float *x, float *frame_sum, Shape s) {
    Py_ssize_t frame_size = s.v * COORDS, person_size = s.t * frame_size;
    float *centres = PyMem_Malloc((size_t)(s.t * COORDS + s.m) * sizeof(float));
    if (centres == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    float *person_sum = centres + s.t * COORDS;
    for (Py_ssize_t i = 0; i < s.n; i++) {
        if (!sample_active(frame_sum, s, i, person_sum)) continue;
        float *sample = x + i * s.m * person_size;
        for (Py_ssize_t f = 0; f < s.t; f++) /* joint 1 of person 0, before any change */
            memcpy(centres + f * COORDS, sample + f * frame_size + COORDS, COORDS * sizeof(float));
        for (Py_ssize_t m = 0; m < s.m; m++) {
            if (person_sum[m] == 0) continue;
            float *person = sample + m * person_size;
            for (Py_ssize_t f = 0; f < s.t; f++) {
                const float *c = centres + f * COORDS;
                for (Py_ssize_t j = 0; j < s.v; j++) {
                    float *p = person + f * frame_size + j * COORDS;
                    float keep = ((p[0] + p[1]) + p[2]) != 0 ? 1.0f : 0.0f;
                    p[0] = (p[0] - c[0]) * keep;
                    p[1] = (p[1] - c[1]) * keep;
                    p[2] = (p[2] - c[2]) * keep;
                }
            }
            sum_frames(x, frame_sum, s, i * s.m + m, 0, s.t);
        }
    }
    PyMem_Free(centres);
    return 0;
}

static PyObject *frame_sums(PyObject *self, PyObject *args) {
    (void)self;
    return run_block_step(args, sum_all_frames);
}

static PyObject *pad_null_frames(PyObject *self, PyObject *args) {
    (void)self;
    return run_block_step(args, pad_persons);
}

static PyObject *centre(PyObject *self, PyObject *args) {
    (void)self;
    return run_block_step(args, centre_persons);
}

/* Row times (x0, x1, x2) in OpenBLAS dgemv's order (see the top), added to a zeroed output as
 * dgemv does: + 0.0 changes no number, only turns a -0.0 into the +0.0 that np.dot gives. fma()
 * is exact wherever it runs; with the FMA instructions it is also fast. */
static inline __attribute__((always_inline)) double dot3(const double *row, double x0, double x1,
                                                         double x2) {
    return fma(row[2], x2, fma(row[0], x0, row[1] * x1)) + 0.0;
}

/* One frame's joints times r, rounded back to float32. */
static inline __attribute__((always_inline)) void rotate_joints(float *frame, Py_ssize_t joints,
                                                                 const double *r) {
    for (Py_ssize_t j = 0; j < joints; j++) {
        float *p = frame + j * COORDS;
        double x0 = p[0], x1 = p[1], x2 = p[2];
        for (int k = 0; k < COORDS; k++) p[k] = (float)dot3(r + COORDS * k, x0, x1, x2);
    }
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define HAS_FMA_DISPATCH 1
__attribute__((target("fma"))) static void rotate_joints_fma(float *frame, Py_ssize_t joints,
                                                              const double *r) {
    rotate_joints(frame, joints, r);
}
#endif

static void rotate_joints_any(float *frame, Py_ssize_t joints, const double *r) {
    rotate_joints(frame, joints, r);
}

/* _rotate's product: every joint of every non-empty frame of every present person of sample i
 * times rotations[i], where use[i] and the sample holds anything. */
static PyObject *rotate(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer x, frame_sum, rotations, use;
    Shape s;
    if (!PyArg_ParseTuple(args, "w*(nnnn)w*y*y*", &x, &s.n, &s.m, &s.t, &s.v, &frame_sum,
                          &rotations, &use))
        return NULL;
    PyObject *result = NULL;
    float *person_sum = NULL;
    Py_ssize_t frame_size = s.v * COORDS;
    if (check(&x, s.n * s.m * s.t * frame_size, sizeof(float), "x") ||
        check(&frame_sum, s.n * s.m * s.t, sizeof(float), "frame_sum") ||
        check(&rotations, s.n * 9, sizeof(double), "rotations") || check(&use, s.n, 1, "use"))
        goto done;
    person_sum = PyMem_Malloc((size_t)s.m * sizeof(float) + 1);
    if (person_sum == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    void (*rotate_frame)(float *, Py_ssize_t, const double *) = rotate_joints_any;
#ifdef HAS_FMA_DISPATCH
    if (__builtin_cpu_supports("fma")) rotate_frame = rotate_joints_fma;
#endif
    float *sums = frame_sum.buf;
    for (Py_ssize_t i = 0; i < s.n; i++) {
        if (!((const uint8_t *)use.buf)[i] || !sample_active(sums, s, i, person_sum)) continue;
        const double *r = (const double *)rotations.buf + 9 * i;
        for (Py_ssize_t m = 0; m < s.m; m++) {
            if (person_sum[m] == 0) continue;
            for (Py_ssize_t pf = (i * s.m + m) * s.t; pf < (i * s.m + m + 1) * s.t; pf++) {
                if (sums[pf] == 0) continue;
                float *frame = (float *)x.buf + pf * frame_size;
                rotate_frame(frame, s.v, r);
                sums[pf] = pairwise_sum(frame, frame_size);
            }
        }
    }
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(person_sum);
    PyBuffer_Release(&x);
    PyBuffer_Release(&frame_sum);
    PyBuffer_Release(&rotations);
    PyBuffer_Release(&use);
    return result;
}

/* The float64 product alone, r times each row of rows (K, 3) into out (K, 3): for the check
 * against NumPy's before rotate is trusted. */
static PyObject *product(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer rows, r, out;
    if (!PyArg_ParseTuple(args, "y*y*w*", &rows, &r, &out)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = rows.len / (Py_ssize_t)(COORDS * sizeof(double));
    if (check(&rows, n * COORDS, sizeof(double), "rows") || check(&r, 9, sizeof(double), "r") ||
        check(&out, n * COORDS, sizeof(double), "out"))
        goto done;
    const double *x = rows.buf;
    double *o = out.buf;
    for (Py_ssize_t i = 0; i < n; i++)
        for (int k = 0; k < COORDS; k++)
            o[COORDS * i + k] = dot3((const double *)r.buf + COORDS * k, x[COORDS * i],
                                     x[COORDS * i + 1], x[COORDS * i + 2]);
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&rows);
    PyBuffer_Release(&r);
    PyBuffer_Release(&out);
    return result;
}

/* body_energy: per slot, std(x) + std(y) + std(z) over the joints of its non-empty frames
 * (population std, two passes in float64); 0 for a slot with no frame. The sums run in file
 * order, NumPy's in blocks, so the last bits may differ: only the order of the energies is
 * used, and it is the same (tested). */
static PyObject *energies(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer slots, out;
    Py_ssize_t n_slots, n_frames, n_joints;
    if (!PyArg_ParseTuple(args, "y*(nnn)w*", &slots, &n_slots, &n_frames, &n_joints, &out))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t frame_size = n_joints * COORDS;
    if (check(&slots, n_slots * n_frames * frame_size, sizeof(double), "slots") ||
        check(&out, n_slots, sizeof(double), "out"))
        goto done;
    for (Py_ssize_t slot = 0; slot < n_slots; slot++) {
        const double *first = (const double *)slots.buf + slot * n_frames * frame_size;
        double sum[COORDS] = {0, 0, 0}, squares[COORDS] = {0, 0, 0};
        Py_ssize_t frames = 0;
        for (int pass = 0; pass < 2; pass++) {
            double mean[COORDS];
            for (int c = 0; c < COORDS; c++) mean[c] = frames ? sum[c] / (double)(frames * n_joints) : 0;
            for (Py_ssize_t f = 0; f < n_frames; f++) {
                const double *frame = first + f * frame_size;
                double frame_sum = 0;
                for (Py_ssize_t k = 0; k < frame_size; k++) frame_sum += frame[k];
                if (frame_sum == 0) continue;
                if (pass == 0) frames++;
                for (Py_ssize_t j = 0; j < n_joints; j++) {
                    for (int c = 0; c < COORDS; c++) {
                        double value = frame[j * COORDS + c];
                        if (pass == 0) sum[c] += value;
                        else squares[c] += (value - mean[c]) * (value - mean[c]);
                    }
                }
            }
            if (frames == 0) break;
        }
        double energy = 0, n = (double)(frames * n_joints);
        if (frames)
            for (int c = 0; c < COORDS; c++) energy += sqrt(squares[c] / n);
        ((double *)out.buf)[slot] = energy;
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&slots);
    PyBuffer_Release(&out);
    return result;
}

/* (N, M, T, V, 3) -> (N, 3, T, V, M), the store's layout (the original's), as one pass;
 * nonzero[n] = whether sample n holds any value other than +-0 (the store leaves out the
 * others, as zarr does with its fill value). */
static PyObject *store_layout(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer x, out, nonzero;
    Shape s;
    if (!PyArg_ParseTuple(args, "y*(nnnn)w*w*", &x, &s.n, &s.m, &s.t, &s.v, &out, &nonzero))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t items = s.n * s.m * s.t * s.v * COORDS, plane = s.t * s.v * s.m;
    if (check(&x, items, sizeof(float), "x") || check(&out, items, sizeof(float), "out") ||
        check(&nonzero, s.n, 1, "nonzero"))
        goto done;
    const float *in = x.buf;
    float *o = out.buf;
    for (Py_ssize_t n = 0; n < s.n; n++) {
        int any = 0;
        for (Py_ssize_t m = 0; m < s.m; m++)
            for (Py_ssize_t tv = 0; tv < s.t * s.v; tv++) {
                const float *p = in + ((n * s.m + m) * s.t * s.v + tv) * COORDS;
                float *q = o + n * COORDS * plane + tv * s.m + m;
                q[0] = p[0];
                q[plane] = p[1];
                q[2 * plane] = p[2];
                any |= (p[0] != 0) | (p[1] != 0) | (p[2] != 0);
            }
        ((uint8_t *)nonzero.buf)[n] = (uint8_t)any;
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&x);
    PyBuffer_Release(&out);
    PyBuffer_Release(&nonzero);
    return result;
}

static PyMethodDef methods[] = {
    {"store_layout", store_layout, METH_VARARGS,
     "store_layout(x, (N, M, T, V), out, nonzero): out = x.transpose(0, 4, 2, 3, 1), "
     "contiguous; nonzero[n] = out[n].any()."},
    {"energies", energies, METH_VARARGS,
     "energies(slots, (S, F, V), out): transforms.body_energy of float64 slots (S, F, V, 3)."},
    {"product", product, METH_VARARGS,
     "product(rows, r, out): out[i] = r @ rows[i] in float64, as rotate computes it."},
    {"frame_sums", frame_sums, METH_VARARGS,
     "frame_sums(x, (N, M, T, V), frame_sum): x.reshape(N, M, T, -1).sum(-1), bit for bit."},
    {"pad_null_frames", pad_null_frames, METH_VARARGS,
     "pad_null_frames(x, (N, M, T, V), frame_sum): transforms._pad_null_frames, in place."},
    {"centre", centre, METH_VARARGS,
     "centre(x, (N, M, T, V), frame_sum): transforms._centre, in place."},
    {"rotate", rotate, METH_VARARGS,
     "rotate(x, (N, M, T, V), frame_sum, rotations, use): the product of transforms._rotate, "
     "in place.\n\nEach step leaves frame_sum equal to the frame sums of what it wrote."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_normalize",
    "The per-sample loops of pre-normalisation (see mmnet.skeleton.transforms).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__normalize(void) { return PyModule_Create(&module); }
