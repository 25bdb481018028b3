// CPU kernels for training the study's CNN: a single-channel convolution with bias and ReLU, and
// max pooling that keeps the position of each maximum, so its gradient is a scatter instead of a
// second search. Built and loaded by mgc/models/kernels/__init__.py (see its docstring).
//
// Every kernel splits its work by sample; a sample's arithmetic runs in one fixed order, and the
// weight gradient is summed from per-sample parts in sample order, so the results do not depend on
// the number of threads.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

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
    for (int64_t j = 0; j < ow; ++j) {
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

// One sample of MgcMaxPool (C as in ConvRelu1Sample).
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
      float fixed_best[C > 0 ? C : 1];
      int32_t fixed_where[C > 0 ? C : 1];
      float* best = C > 0 ? fixed_best : ys + (i * g.ow + j) * nc;  // in registers when C is fixed
      int32_t* where = C > 0 ? fixed_where : as + (i * g.ow + j) * nc;
      const int32_t first = static_cast<int32_t>((h0 * w + w0) * nc);
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
      if (C > 0) {
        std::copy(best, best + nc, ys + (i * g.ow + j) * nc);
        std::copy(where, where + nc, as + (i * g.ow + j) * nc);
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

}  // namespace mgc
