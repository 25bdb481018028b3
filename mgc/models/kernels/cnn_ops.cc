// CPU kernels for training the study's CNN: a single-channel convolution with bias and ReLU, and
// max pooling that keeps the position of each maximum, so its gradient is a scatter instead of a
// second search. Built and loaded by mgc/models/kernels/__init__.py (see its docstring).
//
// Every kernel splits its work by sample; a sample's arithmetic runs in one fixed order, and the
// weight gradient is summed from per-sample parts in sample order, so the results do not depend on
// the number of threads.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/util/work_sharder.h"

namespace mgc {

using tensorflow::DEVICE_CPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Status;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::errors::InvalidArgument;
namespace shape_inference = tensorflow::shape_inference;

// Runs work(first, last) over samples [0, n) on TensorFlow's intra-op threads.
template <typename F>
void BySample(OpKernelContext* ctx, int64_t n, int64_t cost_per_sample, F work) {
  auto* pool = ctx->device()->tensorflow_cpu_worker_threads();
  tensorflow::Shard(pool->num_threads, pool->workers, n, cost_per_sample, work);
}

// ---------------------------------------------------------------------------------------------
// y = relu(conv(x, w) + b): x [N, H, W, 1], w [KH, KW, 1, C], b [C] -> y [N, H-KH+1, W-KW+1, C]
// ('valid' padding, stride 1).

REGISTER_OP("MgcConvRelu1")
    .Input("x: float")
    .Input("w: float")
    .Input("b: float")
    .Output("y: float")
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      shape_inference::ShapeHandle x, w;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &x));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 4, &w));
      shape_inference::DimensionHandle h, wd;
      TF_RETURN_IF_ERROR(c->Subtract(c->Dim(x, 1), c->Dim(w, 0), &h));
      TF_RETURN_IF_ERROR(c->Add(h, 1, &h));
      TF_RETURN_IF_ERROR(c->Subtract(c->Dim(x, 2), c->Dim(w, 1), &wd));
      TF_RETURN_IF_ERROR(c->Add(wd, 1, &wd));
      c->set_output(0, c->MakeShape({c->Dim(x, 0), h, wd, c->Dim(w, 3)}));
      return Status();
    });

// dw, db of MgcConvRelu1 from x, the output y (its ReLU mask) and dy.
REGISTER_OP("MgcConvRelu1Grad")
    .Input("x: float")
    .Input("y: float")
    .Input("dy: float")
    .Input("kernel_size: int32")
    .Output("dw: float")
    .Output("db: float")
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      shape_inference::ShapeHandle y, ks;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 4, &y));
      TF_RETURN_IF_ERROR(c->MakeShapeFromShapeTensor(3, &ks));
      shape_inference::DimensionHandle kh = c->Dim(ks, 0), kw = c->Dim(ks, 1);
      c->set_output(0, c->MakeShape({kh, kw, 1, c->Dim(y, 3)}));
      c->set_output(1, c->MakeShape({c->Dim(y, 3)}));
      return Status();
    });

// One sample of MgcConvRelu1; C > 0 fixes the channel count at compile time (the loops over the
// channels become vector instructions), C == 0 takes it from c.
template <int C>
void ConvRelu1Sample(const float* __restrict xs, const float* __restrict wp, const float* __restrict bp,
                     float* __restrict ys, int64_t wd, int64_t oh, int64_t ow, int64_t kh, int64_t kw, int64_t c) {
  const int64_t nc = C > 0 ? C : c;
  float acc[C > 0 ? C : 1];
  std::vector<float> dynamic(C > 0 ? 0 : nc);
  float* a = C > 0 ? acc : dynamic.data();
  for (int64_t i = 0; i < oh; ++i) {
    int64_t j = 0;
#if defined(__AVX2__) && defined(__FMA__)
    if (nc == 32) {  // three neighbouring outputs at a time, in twelve vector registers
      const __m256 zero = _mm256_setzero_ps();
      for (; j + 3 <= ow; j += 3) {
        __m256 t[3][4];
        for (auto& row : t)
          for (auto& v : row) v = zero;
        for (int64_t r = 0; r < kh; ++r) {
          const float* xr = xs + (i + r) * wd + j;
          for (int64_t e = 0; e < kw; ++e) {
            const float* wk = wp + (r * kw + e) * 32;
            const __m256 w0 = _mm256_loadu_ps(wk), w1 = _mm256_loadu_ps(wk + 8);
            const __m256 w2 = _mm256_loadu_ps(wk + 16), w3 = _mm256_loadu_ps(wk + 24);
            for (int q = 0; q < 3; ++q) {
              const __m256 v = _mm256_broadcast_ss(xr + e + q);
              t[q][0] = _mm256_fmadd_ps(v, w0, t[q][0]);
              t[q][1] = _mm256_fmadd_ps(v, w1, t[q][1]);
              t[q][2] = _mm256_fmadd_ps(v, w2, t[q][2]);
              t[q][3] = _mm256_fmadd_ps(v, w3, t[q][3]);
            }
          }
        }
        for (int q = 0; q < 3; ++q) {
          float* out = ys + (i * ow + j + q) * 32;
          for (int u = 0; u < 4; ++u)
            _mm256_storeu_ps(out + 8 * u, _mm256_max_ps(_mm256_add_ps(t[q][u], _mm256_loadu_ps(bp + 8 * u)), zero));
        }
      }
    }
#endif
    for (; j < ow; ++j) {
      for (int64_t k = 0; k < nc; ++k) a[k] = 0.0f;
      for (int64_t r = 0; r < kh; ++r) {
        for (int64_t e = 0; e < kw; ++e) {
          const float v = xs[(i + r) * wd + (j + e)];
          const float* wk = wp + (r * kw + e) * nc;
          for (int64_t k = 0; k < nc; ++k) a[k] += v * wk[k];
        }
      }
      float* out = ys + (i * ow + j) * nc;
      for (int64_t k = 0; k < nc; ++k) out[k] = std::max(a[k] + bp[k], 0.0f);
    }
  }
}

// One sample of MgcConvRelu1Grad: adds its dw (taps x c) and db (c) to pw and pb.
template <int C>
void ConvRelu1GradSample(const float* __restrict xs, const float* __restrict ys, const float* __restrict gs,
                         float* __restrict pw, float* __restrict pb, int64_t wd, int64_t oh, int64_t ow, int64_t kh,
                         int64_t kw, int64_t c) {
  const int64_t nc = C > 0 ? C : c;
  float fixed[C > 0 ? C : 1];
  std::vector<float> dynamic(C > 0 ? 0 : nc);
  float* dz = C > 0 ? fixed : dynamic.data();
  for (int64_t i = 0; i < oh; ++i) {
    for (int64_t j = 0; j < ow; ++j) {
      const int64_t o = (i * ow + j) * nc;
      for (int64_t k = 0; k < nc; ++k) dz[k] = ys[o + k] > 0.0f ? gs[o + k] : 0.0f;
      for (int64_t k = 0; k < nc; ++k) pb[k] += dz[k];
      for (int64_t r = 0; r < kh; ++r) {
        for (int64_t e = 0; e < kw; ++e) {
          const float v = xs[(i + r) * wd + (j + e)];
          float* t = pw + (r * kw + e) * nc;
          for (int64_t k = 0; k < nc; ++k) t[k] += v * dz[k];
        }
      }
    }
  }
}

class ConvRelu1Op : public OpKernel {
 public:
  explicit ConvRelu1Op(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& w = ctx->input(1);
    const Tensor& b = ctx->input(2);
    OP_REQUIRES(ctx, x.dims() == 4 && x.dim_size(3) == 1, InvalidArgument("x must be [N, H, W, 1]"));
    OP_REQUIRES(ctx, w.dims() == 4 && w.dim_size(2) == 1, InvalidArgument("w must be [KH, KW, 1, C]"));
    const int64_t n = x.dim_size(0), h = x.dim_size(1), wd = x.dim_size(2);
    const int64_t kh = w.dim_size(0), kw = w.dim_size(1), c = w.dim_size(3);
    OP_REQUIRES(ctx, b.dims() == 1 && b.dim_size(0) == c, InvalidArgument("b must be [C]"));
    OP_REQUIRES(ctx, kh <= h && kw <= wd, InvalidArgument("the kernel is larger than the input"));
    const int64_t oh = h - kh + 1, ow = wd - kw + 1;
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({n, oh, ow, c}), &y));
    const float* xp = x.flat<float>().data();
    const float* wp = w.flat<float>().data();
    const float* bp = b.flat<float>().data();
    float* yp = y->flat<float>().data();
    BySample(ctx, n, oh * ow * c * kh * kw * 2, [&](int64_t first, int64_t last) {
      for (int64_t s = first; s < last; ++s) {
        const float* xs = xp + s * h * wd;
        float* ys = yp + s * oh * ow * c;
        if (c == 32) {
          ConvRelu1Sample<32>(xs, wp, bp, ys, wd, oh, ow, kh, kw, c);
        } else {
          ConvRelu1Sample<0>(xs, wp, bp, ys, wd, oh, ow, kh, kw, c);
        }
      }
    });
  }
};

class ConvRelu1GradOp : public OpKernel {
 public:
  explicit ConvRelu1GradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& y = ctx->input(1);
    const Tensor& dy = ctx->input(2);
    const Tensor& ks = ctx->input(3);
    OP_REQUIRES(ctx, ks.NumElements() == 2, InvalidArgument("kernel_size must hold 2 values"));
    const int64_t kh = ks.flat<int32_t>()(0), kw = ks.flat<int32_t>()(1);
    OP_REQUIRES(ctx, x.dims() == 4 && x.dim_size(3) == 1, InvalidArgument("x must be [N, H, W, 1]"));
    OP_REQUIRES(ctx, y.shape() == dy.shape() && y.dims() == 4, InvalidArgument("y and dy must be equal shapes"));
    const int64_t n = x.dim_size(0), h = x.dim_size(1), wd = x.dim_size(2);
    const int64_t oh = y.dim_size(1), ow = y.dim_size(2), c = y.dim_size(3);
    OP_REQUIRES(ctx, y.dim_size(0) == n && oh == h - kh + 1 && ow == wd - kw + 1,
                InvalidArgument("y does not match x and kernel_size"));
    Tensor* dw = nullptr;
    Tensor* db = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({kh, kw, 1, c}), &dw));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({c}), &db));
    const int64_t taps = kh * kw, part = (taps + 1) * c;  // a sample's dw (taps x c), then its db (c)
    std::vector<float> parts(n * part, 0.0f);
    const float* xp = x.flat<float>().data();
    const float* yp = y.flat<float>().data();
    const float* gp = dy.flat<float>().data();
    BySample(ctx, n, oh * ow * c * (taps + 1) * 2, [&](int64_t first, int64_t last) {
      for (int64_t s = first; s < last; ++s) {
        const int64_t o = s * oh * ow * c;
        float* ps = parts.data() + s * part;
        if (c == 32) {
          ConvRelu1GradSample<32>(xp + s * h * wd, yp + o, gp + o, ps, ps + taps * c, wd, oh, ow, kh, kw, c);
        } else {
          ConvRelu1GradSample<0>(xp + s * h * wd, yp + o, gp + o, ps, ps + taps * c, wd, oh, ow, kh, kw, c);
        }
      }
    });
    float* dwp = dw->flat<float>().data();
    float* dbp = db->flat<float>().data();
    std::fill(dwp, dwp + taps * c, 0.0f);
    std::fill(dbp, dbp + c, 0.0f);
    for (int64_t s = 0; s < n; ++s) {  // in sample order: the same sum whatever the threads
      const float* ps = parts.data() + s * part;
      for (int64_t k = 0; k < taps * c; ++k) dwp[k] += ps[k];
      for (int64_t k = 0; k < c; ++k) dbp[k] += ps[taps * c + k];
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Max pooling over [N, H, W, C] with a KH x KW window, strides SH, SW and TensorFlow's 'SAME' or
// 'VALID' padding; also returns, per output, the flat index (h * W + w) * C + c of its maximum in
// its sample (the first maximum in the window's row-major order, as TensorFlow's MaxPoolGrad).

struct PoolGeometry {
  int64_t kh, kw, sh, sw, oh, ow, top, left;
};

Status Geometry(int64_t h, int64_t w, const std::vector<int32_t>& ksize, const std::vector<int32_t>& strides,
                const std::string& padding, PoolGeometry* g) {
  if (ksize.size() != 2 || strides.size() != 2) return InvalidArgument("ksize and strides must hold 2 values");
  g->kh = ksize[0];
  g->kw = ksize[1];
  g->sh = strides[0];
  g->sw = strides[1];
  if (g->kh < 1 || g->kw < 1 || g->sh < 1 || g->sw < 1) return InvalidArgument("ksize and strides must be >= 1");
  if (padding == "SAME") {
    g->oh = (h + g->sh - 1) / g->sh;
    g->ow = (w + g->sw - 1) / g->sw;
    g->top = std::max<int64_t>((g->oh - 1) * g->sh + g->kh - h, 0) / 2;
    g->left = std::max<int64_t>((g->ow - 1) * g->sw + g->kw - w, 0) / 2;
  } else {
    if (h < g->kh || w < g->kw) return InvalidArgument("the window is larger than the input");
    g->oh = (h - g->kh) / g->sh + 1;
    g->ow = (w - g->kw) / g->sw + 1;
    g->top = g->left = 0;
  }
  return Status();
}

// One sample of MgcMaxPool (C as in ConvRelu1Sample; with AVX2 and C == 32, vector compares and blends).
template <int C>
void MaxPoolSample(const float* __restrict xs, float* __restrict ys, int32_t* __restrict as, int64_t h, int64_t w,
                   int64_t c, const PoolGeometry& g) {
  const int64_t nc = C > 0 ? C : c;
  for (int64_t i = 0; i < g.oh; ++i) {
    const int64_t h0 = std::max<int64_t>(i * g.sh - g.top, 0);
    const int64_t h1 = std::min<int64_t>(i * g.sh - g.top + g.kh, h);
    for (int64_t j = 0; j < g.ow; ++j) {
      const int64_t w0 = std::max<int64_t>(j * g.sw - g.left, 0);
      const int64_t w1 = std::min<int64_t>(j * g.sw - g.left + g.kw, w);
      float* best = ys + (i * g.ow + j) * nc;
      int32_t* where = as + (i * g.ow + j) * nc;
      const int32_t first = static_cast<int32_t>((h0 * w + w0) * nc);
#if defined(__AVX2__) && defined(__FMA__)
      if (nc == 32) {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        __m256 bv[4];
        __m256i bi[4];
        for (int u = 0; u < 4; ++u) {
          bv[u] = _mm256_loadu_ps(xs + first + 8 * u);
          bi[u] = _mm256_add_epi32(_mm256_set1_epi32(first + 8 * u), lane);
        }
        for (int64_t a = h0; a < h1; ++a) {
          for (int64_t e = w0; e < w1; ++e) {
            const int32_t p = static_cast<int32_t>((a * w + e) * 32);
            for (int u = 0; u < 4; ++u) {
              const __m256 v = _mm256_loadu_ps(xs + p + 8 * u);
              const __m256 more = _mm256_cmp_ps(v, bv[u], _CMP_GT_OQ);  // strictly greater: the first maximum wins
              bv[u] = _mm256_blendv_ps(bv[u], v, more);
              const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(p + 8 * u), lane);
              bi[u] = _mm256_castps_si256(
                  _mm256_blendv_ps(_mm256_castsi256_ps(bi[u]), _mm256_castsi256_ps(idx), more));
            }
          }
        }
        for (int u = 0; u < 4; ++u) {
          _mm256_storeu_ps(best + 8 * u, bv[u]);
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(where + 8 * u), bi[u]);
        }
        continue;
      }
#endif
      for (int64_t k = 0; k < nc; ++k) {
        best[k] = xs[first + k];
        where[k] = first + static_cast<int32_t>(k);
      }
      for (int64_t a = h0; a < h1; ++a) {
        for (int64_t e = w0; e < w1; ++e) {
          const int32_t p = static_cast<int32_t>((a * w + e) * nc);
          const float* v = xs + p;
          for (int64_t k = 0; k < nc; ++k) {
            const bool more = v[k] > best[k];  // strictly greater: the first maximum wins
            best[k] = more ? v[k] : best[k];
            where[k] = more ? p + static_cast<int32_t>(k) : where[k];
          }
        }
      }
    }
  }
}

REGISTER_OP("MgcMaxPool")
    .Input("x: float")
    .Output("y: float")
    .Output("argmax: int32")
    .Attr("ksize: list(int)")
    .Attr("strides: list(int)")
    .Attr("padding: {'SAME', 'VALID'}")
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      shape_inference::ShapeHandle x;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &x));
      std::vector<int32_t> ksize, strides;
      std::string padding;
      TF_RETURN_IF_ERROR(c->GetAttr("ksize", &ksize));
      TF_RETURN_IF_ERROR(c->GetAttr("strides", &strides));
      TF_RETURN_IF_ERROR(c->GetAttr("padding", &padding));
      shape_inference::DimensionHandle oh = c->UnknownDim(), ow = c->UnknownDim();
      if (c->ValueKnown(c->Dim(x, 1)) && c->ValueKnown(c->Dim(x, 2))) {
        PoolGeometry g;
        TF_RETURN_IF_ERROR(Geometry(c->Value(c->Dim(x, 1)), c->Value(c->Dim(x, 2)), ksize, strides, padding, &g));
        oh = c->MakeDim(g.oh);
        ow = c->MakeDim(g.ow);
      }
      shape_inference::ShapeHandle out = c->MakeShape({c->Dim(x, 0), oh, ow, c->Dim(x, 3)});
      c->set_output(0, out);
      c->set_output(1, out);
      return Status();
    });

// dx of MgcMaxPool: each output's gradient added at its maximum.
REGISTER_OP("MgcMaxPoolGrad")
    .Input("x_shape: int32")
    .Input("argmax: int32")
    .Input("dy: float")
    .Output("dx: float")
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      shape_inference::ShapeHandle out;
      TF_RETURN_IF_ERROR(c->MakeShapeFromShapeTensor(0, &out));
      c->set_output(0, out);
      return Status();
    });

class MaxPoolOp : public OpKernel {
 public:
  explicit MaxPoolOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("ksize", &ksize_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("strides", &strides_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("padding", &padding_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    OP_REQUIRES(ctx, x.dims() == 4, InvalidArgument("x must be [N, H, W, C]"));
    const int64_t n = x.dim_size(0), h = x.dim_size(1), w = x.dim_size(2), c = x.dim_size(3);
    OP_REQUIRES(ctx, h * w * c < std::numeric_limits<int32_t>::max(), InvalidArgument("a sample is too large"));
    PoolGeometry g;
    OP_REQUIRES_OK(ctx, Geometry(h, w, ksize_, strides_, padding_, &g));
    Tensor* y = nullptr;
    Tensor* arg = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({n, g.oh, g.ow, c}), &y));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({n, g.oh, g.ow, c}), &arg));
    const float* xp = x.flat<float>().data();
    float* yp = y->flat<float>().data();
    int32_t* ap = arg->flat<int32_t>().data();
    BySample(ctx, n, g.oh * g.ow * c * g.kh * g.kw, [&](int64_t first, int64_t last) {
      for (int64_t s = first; s < last; ++s) {
        const int64_t o = s * g.oh * g.ow * c;
        if (c == 32) {
          MaxPoolSample<32>(xp + s * h * w * c, yp + o, ap + o, h, w, c, g);
        } else {
          MaxPoolSample<0>(xp + s * h * w * c, yp + o, ap + o, h, w, c, g);
        }
      }
    });
  }

 private:
  std::vector<int32_t> ksize_, strides_;
  std::string padding_;
};

class MaxPoolGradOp : public OpKernel {
 public:
  explicit MaxPoolGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& shape = ctx->input(0);
    const Tensor& arg = ctx->input(1);
    const Tensor& dy = ctx->input(2);
    OP_REQUIRES(ctx, shape.NumElements() == 4, InvalidArgument("x_shape must hold 4 values"));
    OP_REQUIRES(ctx, arg.shape() == dy.shape() && dy.dims() == 4, InvalidArgument("argmax and dy must be equal shapes"));
    auto sv = shape.flat<int32_t>();
    const int64_t n = sv(0), sample = int64_t{sv(1)} * sv(2) * sv(3);
    OP_REQUIRES(ctx, n == dy.dim_size(0) && sv(3) == dy.dim_size(3), InvalidArgument("x_shape does not match dy"));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({n, sv(1), sv(2), sv(3)}), &dx));
    const int64_t per = dy.NumElements() / std::max<int64_t>(n, 1);
    const int32_t* ap = arg.flat<int32_t>().data();
    const float* gp = dy.flat<float>().data();
    float* dp = dx->flat<float>().data();
    bool bad = false;
    BySample(ctx, n, per * 2 + sample, [&](int64_t first, int64_t last) {
      for (int64_t s = first; s < last; ++s) {
        float* ds = dp + s * sample;
        std::fill(ds, ds + sample, 0.0f);
        const int32_t* as = ap + s * per;
        const float* gs = gp + s * per;
        for (int64_t k = 0; k < per; ++k) {
          if (as[k] < 0 || as[k] >= sample) {
            bad = true;
            continue;
          }
          ds[as[k]] += gs[k];
        }
      }
    });
    OP_REQUIRES(ctx, !bad, InvalidArgument("argmax holds an index outside x_shape"));
  }
};

REGISTER_KERNEL_BUILDER(Name("MgcConvRelu1").Device(DEVICE_CPU), ConvRelu1Op);
REGISTER_KERNEL_BUILDER(Name("MgcConvRelu1Grad").Device(DEVICE_CPU).HostMemory("kernel_size"), ConvRelu1GradOp);
REGISTER_KERNEL_BUILDER(Name("MgcMaxPool").Device(DEVICE_CPU), MaxPoolOp);
REGISTER_KERNEL_BUILDER(Name("MgcMaxPoolGrad").Device(DEVICE_CPU).HostMemory("x_shape"), MaxPoolGradOp);

// ---------------------------------------------------------------------------------------------
// Batch normalisation in training over the last axis of x [N, ..., C]: the batch's mean and
// (biased) variance per channel, y = (x - mean) / sqrt(variance + epsilon) * gamma + beta.
// Sums run in double, per sample, then over the samples in order.

REGISTER_OP("MgcBatchNorm")
    .Input("x: float")
    .Input("gamma: float")
    .Input("beta: float")
    .Output("y: float")
    .Output("mean: float")
    .Output("variance: float")
    .Attr("epsilon: float")
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->input(1));
      c->set_output(2, c->input(1));
      return Status();
    });

// dx, dgamma, dbeta of MgcBatchNorm (the gradient through the batch's mean and variance included).
REGISTER_OP("MgcBatchNormGrad")
    .Input("x: float")
    .Input("dy: float")
    .Input("mean: float")
    .Input("variance: float")
    .Input("gamma: float")
    .Output("dx: float")
    .Output("dgamma: float")
    .Output("dbeta: float")
    .Attr("epsilon: float")
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->input(4));
      c->set_output(2, c->input(4));
      return Status();
    });

// Per-sample sums of a [N, rows, C] array into parts [N, terms, C] (double), then their ordered sum.
template <typename F>
void ChannelSums(OpKernelContext* ctx, int64_t n, int64_t rows, int64_t c, int terms, F add, std::vector<double>* out) {
  std::vector<double> parts(n * terms * c, 0.0);
  BySample(ctx, n, rows * c * terms * 3, [&](int64_t first, int64_t last) {
    for (int64_t s = first; s < last; ++s) add(s, parts.data() + s * terms * c);
  });
  out->assign(terms * c, 0.0);
  for (int64_t s = 0; s < n; ++s) {
    for (int64_t k = 0; k < terms * c; ++k) (*out)[k] += parts[s * terms * c + k];
  }
}

class BatchNormOp : public OpKernel {
 public:
  explicit BatchNormOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("epsilon", &epsilon_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& gamma = ctx->input(1);
    const Tensor& beta = ctx->input(2);
    OP_REQUIRES(ctx, x.dims() >= 2, InvalidArgument("x must be [N, ..., C]"));
    const int64_t n = x.dim_size(0), c = x.dim_size(x.dims() - 1);
    OP_REQUIRES(ctx, gamma.NumElements() == c && beta.NumElements() == c, InvalidArgument("gamma, beta must be [C]"));
    OP_REQUIRES(ctx, x.NumElements() > 0, InvalidArgument("x is empty"));
    const int64_t rows = x.NumElements() / (n * c);
    Tensor *y = nullptr, *mean = nullptr, *var = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &y));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, gamma.shape(), &mean));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, gamma.shape(), &var));
    const float* xp = x.flat<float>().data();
    const double count = static_cast<double>(n * rows);
    std::vector<double> sum, sq;
    ChannelSums(ctx, n, rows, c, 1, [&](int64_t s, double* part) {
      const float* xs = xp + s * rows * c;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < c; ++k) part[k] += xs[r * c + k];
    }, &sum);
    std::vector<float> mu(c), rstd(c), scale(c), shift(c);
    for (int64_t k = 0; k < c; ++k) mu[k] = static_cast<float>(sum[k] / count);
    ChannelSums(ctx, n, rows, c, 1, [&](int64_t s, double* part) {  // two passes: no cancellation
      const float* xs = xp + s * rows * c;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < c; ++k) {
          const double d = static_cast<double>(xs[r * c + k]) - mu[k];
          part[k] += d * d;
        }
    }, &sq);
    const float* gp = gamma.flat<float>().data();
    const float* bp = beta.flat<float>().data();
    for (int64_t k = 0; k < c; ++k) {
      const float v = static_cast<float>(sq[k] / count);
      mean->flat<float>()(k) = mu[k];
      var->flat<float>()(k) = v;
      rstd[k] = 1.0f / std::sqrt(v + epsilon_);
      scale[k] = rstd[k] * gp[k];
      shift[k] = bp[k] - mu[k] * scale[k];
    }
    float* yp = y->flat<float>().data();
    BySample(ctx, n, rows * c * 2, [&](int64_t first, int64_t last) {
      for (int64_t s = first; s < last; ++s) {
        const float* xs = xp + s * rows * c;
        float* ys = yp + s * rows * c;
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t k = 0; k < c; ++k) ys[r * c + k] = xs[r * c + k] * scale[k] + shift[k];
      }
    });
  }

 private:
  float epsilon_;
};

class BatchNormGradOp : public OpKernel {
 public:
  explicit BatchNormGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("epsilon", &epsilon_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& dy = ctx->input(1);
    const Tensor& mean = ctx->input(2);
    const Tensor& var = ctx->input(3);
    const Tensor& gamma = ctx->input(4);
    OP_REQUIRES(ctx, x.shape() == dy.shape() && x.dims() >= 2, InvalidArgument("x and dy must be equal shapes"));
    const int64_t n = x.dim_size(0), c = x.dim_size(x.dims() - 1);
    OP_REQUIRES(ctx, mean.NumElements() == c && var.NumElements() == c && gamma.NumElements() == c,
                InvalidArgument("mean, variance, gamma must be [C]"));
    const int64_t rows = x.NumElements() / std::max<int64_t>(n * c, 1);
    Tensor *dx = nullptr, *dgamma = nullptr, *dbeta = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &dx));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, gamma.shape(), &dgamma));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, gamma.shape(), &dbeta));
    const float* xp = x.flat<float>().data();
    const float* gp = dy.flat<float>().data();
    std::vector<float> mu(c), rstd(c);
    for (int64_t k = 0; k < c; ++k) {
      mu[k] = mean.flat<float>()(k);
      rstd[k] = 1.0f / std::sqrt(var.flat<float>()(k) + epsilon_);
    }
    std::vector<double> sums;  // [sum dy | sum dy * xhat]
    ChannelSums(ctx, n, rows, c, 2, [&](int64_t s, double* part) {
      const float* xs = xp + s * rows * c;
      const float* gs = gp + s * rows * c;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < c; ++k) {
          const float g = gs[r * c + k];
          part[k] += g;
          part[c + k] += static_cast<double>(g) * ((xs[r * c + k] - mu[k]) * rstd[k]);
        }
    }, &sums);
    const double count = static_cast<double>(n * rows);
    std::vector<float> a(c), mb(c), mg(c);
    for (int64_t k = 0; k < c; ++k) {
      dbeta->flat<float>()(k) = static_cast<float>(sums[k]);
      dgamma->flat<float>()(k) = static_cast<float>(sums[c + k]);
      a[k] = gamma.flat<float>()(k) * rstd[k];
      mb[k] = static_cast<float>(sums[k] / count);
      mg[k] = static_cast<float>(sums[c + k] / count);
    }
    float* dp = dx->flat<float>().data();
    BySample(ctx, n, rows * c * 4, [&](int64_t first, int64_t last) {
      for (int64_t s = first; s < last; ++s) {
        const float* xs = xp + s * rows * c;
        const float* gs = gp + s * rows * c;
        float* ds = dp + s * rows * c;
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t k = 0; k < c; ++k) {
            const float xhat = (xs[r * c + k] - mu[k]) * rstd[k];
            ds[r * c + k] = a[k] * (gs[r * c + k] - mb[k] - xhat * mg[k]);
          }
      }
    });
  }

 private:
  float epsilon_;
};

REGISTER_KERNEL_BUILDER(Name("MgcBatchNorm").Device(DEVICE_CPU), BatchNormOp);
REGISTER_KERNEL_BUILDER(Name("MgcBatchNormGrad").Device(DEVICE_CPU), BatchNormGradOp);

// ---------------------------------------------------------------------------------------------
// The gradients of a 'valid', stride-1 convolution with any channel counts (the CNN's second and
// third): z = conv(x, w), x [N, H, W, CI], w [KH, KW, CI, CO], z [N, H-KH+1, W-KW+1, CO].

REGISTER_OP("MgcConvFilterGrad")
    .Input("x: float")
    .Input("dz: float")
    .Input("kernel_size: int32")
    .Output("dw: float")
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      shape_inference::ShapeHandle x, dz, ks;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &x));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 4, &dz));
      TF_RETURN_IF_ERROR(c->MakeShapeFromShapeTensor(2, &ks));
      c->set_output(0, c->MakeShape({c->Dim(ks, 0), c->Dim(ks, 1), c->Dim(x, 3), c->Dim(dz, 3)}));
      return Status();
    });

REGISTER_OP("MgcConvInputGrad")
    .Input("x_shape: int32")
    .Input("w: float")
    .Input("dz: float")
    .Output("dx: float")
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      shape_inference::ShapeHandle out;
      TF_RETURN_IF_ERROR(c->MakeShapeFromShapeTensor(0, &out));
      c->set_output(0, out);
      return Status();
    });

// One sample's part of dw (rows (tap, ci), CO columns) for MgcConvFilterGrad: part[r, :] = sum over the
// positions p of x[p + offset[r]] * dz[p, :]. With AVX2 and CO == 32, three rows at a time are summed in
// twelve vector registers (a register tile); otherwise plain loops.
void FilterGradSample(const float* __restrict xs, const float* __restrict gs, float* __restrict part,
                      const std::vector<int64_t>& offset, int64_t w, int64_t ci, int64_t oh, int64_t ow, int64_t co) {
  const int64_t rows = static_cast<int64_t>(offset.size());
  int64_t r = 0;
#if defined(__AVX2__) && defined(__FMA__)
  if (co == 32) {
    for (; r + 3 <= rows; r += 3) {
      __m256 acc[3][4];
      for (auto& row : acc)
        for (auto& v : row) v = _mm256_setzero_ps();
      const int64_t o0 = offset[r], o1 = offset[r + 1], o2 = offset[r + 2];
      for (int64_t i = 0; i < oh; ++i) {
        for (int64_t j = 0; j < ow; ++j) {
          const float* xq = xs + (i * w + j) * ci;
          const float* g = gs + (i * ow + j) * 32;
          const __m256 g0 = _mm256_loadu_ps(g), g1 = _mm256_loadu_ps(g + 8);
          const __m256 g2 = _mm256_loadu_ps(g + 16), g3 = _mm256_loadu_ps(g + 24);
          const __m256 v[3] = {_mm256_broadcast_ss(xq + o0), _mm256_broadcast_ss(xq + o1), _mm256_broadcast_ss(xq + o2)};
          for (int t = 0; t < 3; ++t) {
            acc[t][0] = _mm256_fmadd_ps(v[t], g0, acc[t][0]);
            acc[t][1] = _mm256_fmadd_ps(v[t], g1, acc[t][1]);
            acc[t][2] = _mm256_fmadd_ps(v[t], g2, acc[t][2]);
            acc[t][3] = _mm256_fmadd_ps(v[t], g3, acc[t][3]);
          }
        }
      }
      for (int t = 0; t < 3; ++t)
        for (int q = 0; q < 4; ++q) _mm256_storeu_ps(part + (r + t) * 32 + q * 8, acc[t][q]);
    }
  }
#endif
  std::vector<float> acc(co);
  for (; r < rows; ++r) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t i = 0; i < oh; ++i) {
      for (int64_t j = 0; j < ow; ++j) {
        const float v = xs[(i * w + j) * ci + offset[r]];
        const float* g = gs + (i * ow + j) * co;
        for (int64_t k = 0; k < co; ++k) acc[k] += v * g[k];
      }
    }
    std::copy(acc.begin(), acc.end(), part + r * co);
  }
}

class ConvFilterGradOp : public OpKernel {
 public:
  explicit ConvFilterGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& dz = ctx->input(1);
    const Tensor& ks = ctx->input(2);
    OP_REQUIRES(ctx, ks.NumElements() == 2, InvalidArgument("kernel_size must hold 2 values"));
    OP_REQUIRES(ctx, x.dims() == 4 && dz.dims() == 4, InvalidArgument("x and dz must be [N, H, W, C]"));
    const int64_t kh = ks.flat<int32_t>()(0), kw = ks.flat<int32_t>()(1);
    const int64_t n = x.dim_size(0), h = x.dim_size(1), w = x.dim_size(2), ci = x.dim_size(3);
    const int64_t oh = dz.dim_size(1), ow = dz.dim_size(2), co = dz.dim_size(3);
    OP_REQUIRES(ctx, dz.dim_size(0) == n && oh == h - kh + 1 && ow == w - kw + 1,
                InvalidArgument("dz does not match x and kernel_size ('valid', stride 1)"));
    Tensor* dw = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({kh, kw, ci, co}), &dw));
    const float* xp = x.flat<float>().data();
    const float* gp = dz.flat<float>().data();
    float* out = dw->flat<float>().data();
    const int64_t rows = kh * kw * ci;
    std::vector<int64_t> offset(rows);  // row (tap, ci) -> its input's offset from a position's first value
    for (int64_t t = 0; t < kh * kw; ++t)
      for (int64_t c = 0; c < ci; ++c) offset[t * ci + c] = ((t / kw) * w + (t % kw)) * ci + c;
    std::vector<float> parts(n * rows * co);
    BySample(ctx, n, oh * ow * rows * co * 2, [&](int64_t first, int64_t last) {
      for (int64_t s = first; s < last; ++s)
        FilterGradSample(xp + s * h * w * ci, gp + s * oh * ow * co, parts.data() + s * rows * co, offset, w, ci, oh,
                         ow, co);
    });
    std::fill(out, out + rows * co, 0.0f);
    for (int64_t s = 0; s < n; ++s) {  // in sample order: the same sum whatever the threads
      const float* ps = parts.data() + s * rows * co;
      for (int64_t k = 0; k < rows * co; ++k) out[k] += ps[k];
    }
  }
};

// One sample of MgcConvInputGrad: dx[i, j, :] = sum over taps (a, e) and output channels o of
// dz[i - a, j - e, o] * w[a, e, :, o]. dzp is dz zero-padded by KH-1 rows and KW-1 columns on each
// side (no bounds to test); wt is w transposed to [tap, co, ci]. With AVX2 and CI == 32, three
// neighbouring positions are summed at a time in twelve vector registers; otherwise plain loops.
void InputGradSample(const float* __restrict dzp, const float* __restrict wt, float* __restrict ds, int64_t h,
                     int64_t w, int64_t ci, int64_t co, int64_t kh, int64_t kw) {
  const int64_t pw = w + kw - 1;  // the padded map's width (columns of dz from -(kw-1) to ow-1+(kw-1))
  auto at = [&](int64_t i, int64_t j) { return dzp + (i * pw + j) * co; };  // padded (i, j): dz[i-(kh-1), j-(kw-1)]
  for (int64_t i = 0; i < h; ++i) {
    int64_t j = 0;
#if defined(__AVX2__) && defined(__FMA__)
    if (ci == 32) {
      for (; j + 3 <= w; j += 3) {
        __m256 acc[3][4];
        for (auto& row : acc)
          for (auto& v : row) v = _mm256_setzero_ps();
        for (int64_t a = 0; a < kh; ++a) {
          for (int64_t e = 0; e < kw; ++e) {
            const float* g0 = at(i - a + kh - 1, j - e + kw - 1);
            const float* wk = wt + (a * kw + e) * co * 32;
            for (int64_t o = 0; o < co; ++o) {
              const float* wr = wk + o * 32;
              const __m256 w0 = _mm256_loadu_ps(wr), w1 = _mm256_loadu_ps(wr + 8);
              const __m256 w2 = _mm256_loadu_ps(wr + 16), w3 = _mm256_loadu_ps(wr + 24);
              for (int t = 0; t < 3; ++t) {
                const __m256 v = _mm256_broadcast_ss(g0 + t * co + o);
                acc[t][0] = _mm256_fmadd_ps(v, w0, acc[t][0]);
                acc[t][1] = _mm256_fmadd_ps(v, w1, acc[t][1]);
                acc[t][2] = _mm256_fmadd_ps(v, w2, acc[t][2]);
                acc[t][3] = _mm256_fmadd_ps(v, w3, acc[t][3]);
              }
            }
          }
        }
        for (int t = 0; t < 3; ++t)
          for (int q = 0; q < 4; ++q) _mm256_storeu_ps(ds + ((i * w + j + t) * 32) + q * 8, acc[t][q]);
      }
    }
#endif
    std::vector<float> acc(ci);
    for (; j < w; ++j) {
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t a = 0; a < kh; ++a) {
        for (int64_t e = 0; e < kw; ++e) {
          const float* g = at(i - a + kh - 1, j - e + kw - 1);
          const float* wk = wt + (a * kw + e) * co * ci;
          for (int64_t o = 0; o < co; ++o) {
            const float v = g[o];
            const float* wr = wk + o * ci;
            for (int64_t k = 0; k < ci; ++k) acc[k] += v * wr[k];
          }
        }
      }
      std::copy(acc.begin(), acc.end(), ds + (i * w + j) * ci);
    }
  }
}

class ConvInputGradOp : public OpKernel {
 public:
  explicit ConvInputGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& shape = ctx->input(0);
    const Tensor& wv = ctx->input(1);
    const Tensor& dz = ctx->input(2);
    OP_REQUIRES(ctx, shape.NumElements() == 4, InvalidArgument("x_shape must hold 4 values"));
    OP_REQUIRES(ctx, wv.dims() == 4 && dz.dims() == 4, InvalidArgument("w must be [KH, KW, CI, CO], dz [N, H, W, CO]"));
    auto sv = shape.flat<int32_t>();
    const int64_t n = sv(0), h = sv(1), w = sv(2), ci = sv(3);
    const int64_t kh = wv.dim_size(0), kw = wv.dim_size(1), co = wv.dim_size(3);
    const int64_t oh = dz.dim_size(1), ow = dz.dim_size(2);
    OP_REQUIRES(ctx, wv.dim_size(2) == ci && dz.dim_size(3) == co && dz.dim_size(0) == n && oh == h - kh + 1 &&
                         ow == w - kw + 1,
                InvalidArgument("x_shape, w and dz do not match ('valid', stride 1)"));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({n, h, w, ci}), &dx));
    const float* wp = wv.flat<float>().data();
    std::vector<float> wt(kh * kw * co * ci);
    for (int64_t t = 0; t < kh * kw; ++t)
      for (int64_t c = 0; c < ci; ++c)
        for (int64_t o = 0; o < co; ++o) wt[(t * co + o) * ci + c] = wp[(t * ci + c) * co + o];
    const float* gp = dz.flat<float>().data();
    float* dp = dx->flat<float>().data();
    const int64_t ph = oh + 2 * (kh - 1), pw = ow + 2 * (kw - 1);
    BySample(ctx, n, h * w * ci * co * kh * kw * 2, [&](int64_t first, int64_t last) {
      std::vector<float> padded(ph * pw * co, 0.0f);  // the borders stay zero
      for (int64_t s = first; s < last; ++s) {
        const float* gs = gp + s * oh * ow * co;
        for (int64_t i = 0; i < oh; ++i)
          std::copy(gs + i * ow * co, gs + (i + 1) * ow * co, padded.data() + ((i + kh - 1) * pw + kw - 1) * co);
        InputGradSample(padded.data(), wt.data(), dp + s * h * w * ci, h, w, ci, co, kh, kw);
      }
    });
  }
};

REGISTER_KERNEL_BUILDER(Name("MgcConvFilterGrad").Device(DEVICE_CPU).HostMemory("kernel_size"), ConvFilterGradOp);
REGISTER_KERNEL_BUILDER(Name("MgcConvInputGrad").Device(DEVICE_CPU).HostMemory("x_shape"), ConvInputGradOp);

}  // namespace mgc
