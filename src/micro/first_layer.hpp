// The first layer's two products, which carry nearly all of a step's arithmetic at image scale
// (784 inputs against a width of 20 and a batch of 32):
//
//   forward   Z = Xᵀ W     Z(b, j) = Σ_k X(k, b) W(k, j)
//   gradient  G = X δ      G(k, j) = Σ_b X(k, b) δ(b, j)
//
// X holds the batch as columns (fan_in × B), W = W₁ᵀ (fan_in × fan_out) and G are
// column-major, δ and Z are B × fan_out column-major. Both products read X along its
// contiguous columns, so they need no repacking of their operands: Eigen's general product
// spends a fifth of its time packing them at these shapes, and these register-blocked loops
// run 1.3–1.5× faster than it from a few hundred inputs (bench/RESULTS.md). They use Eigen's
// packet primitives, so they vectorise on whatever SIMD Eigen targets. The order of every sum
// is fixed by the shapes alone.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>

namespace cdl::micro::first_layer {

namespace detail {

template <class S>
using Packet = typename Eigen::internal::packet_traits<S>::type;
template <class S>
constexpr int packet_size = Eigen::internal::unpacket_traits<Packet<S>>::size;

// Register blocks sized to the SIMD register file: accumulators plus the operands in flight.
constexpr bool many_registers = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32;
constexpr int forward_samples = many_registers ? 4 : 3;  // samples per forward block
constexpr int forward_outputs = many_registers ? 5 : 3;  // fan_out columns per forward block
constexpr int gradient_packets = 2;                      // packets of inputs per gradient block
constexpr int gradient_outputs = many_registers ? 5 : 4;

// The sum of a packet's lanes (a fixed tree). GCC 12's AVX-512 header warns of an
// uninitialised operand inside the double-precision version: its bug 105593, a false alarm.
template <class S>
inline S horizontal_sum(const Packet<S>& packet) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
  return Eigen::internal::predux(packet);
#pragma GCC diagnostic pop
}

// GCC folds a loaded packet into every multiply-add that uses it, so that a weight packet
// used by four samples is loaded four times and the loop waits on loads, not on arithmetic
// (77 against 97 GFLOP/s at the published shape). An empty asm that may change the value
// makes it stay in its register.
template <class P>
inline void keep_in_register(P& packet) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  asm("" : "+v"(packet));
#else
  (void)packet;
#endif
}

// Z(b, j) for Samples samples from x and Outputs columns from w: one dot product of length
// `length` (a whole number of packets) each, held in packets and reduced at the end.
template <class S, int Samples, int Outputs>
inline void forward_block(const S* x, Eigen::Index ldx, const S* w, Eigen::Index ldw,
                          Eigen::Index length, S* z, Eigen::Index ldz) {
  using namespace Eigen::internal;
  constexpr int size = packet_size<S>;
  Packet<S> sum[Samples][Outputs];
  for (int b = 0; b < Samples; ++b)
    for (int j = 0; j < Outputs; ++j) sum[b][j] = pset1<Packet<S>>(S(0));
  for (Eigen::Index k = 0; k < length; k += size) {
    Packet<S> weight[Outputs];
    for (int j = 0; j < Outputs; ++j) {
      weight[j] = ploadu<Packet<S>>(w + j * ldw + k);
      keep_in_register(weight[j]);
    }
    for (int b = 0; b < Samples; ++b) {
      const Packet<S> input = ploadu<Packet<S>>(x + b * ldx + k);
      for (int j = 0; j < Outputs; ++j) sum[b][j] = pmadd(input, weight[j], sum[b][j]);
    }
  }
  for (int b = 0; b < Samples; ++b)
    for (int j = 0; j < Outputs; ++j) z[j * ldz + b] = horizontal_sum<S>(sum[b][j]);
}

// A band of Samples samples across every output column: whole blocks, then one column at a
// time.
template <class S, int Samples>
inline void forward_band(const S* x, Eigen::Index ldx, const S* w, Eigen::Index ldw,
                         Eigen::Index length, Eigen::Index outputs, S* z, Eigen::Index ldz) {
  constexpr int cols = forward_outputs;
  Eigen::Index j = 0;
  for (; j + cols <= outputs; j += cols)
    forward_block<S, Samples, cols>(x, ldx, w + j * ldw, ldw, length, z + j * ldz, ldz);
  for (; j < outputs; ++j)
    forward_block<S, Samples, 1>(x, ldx, w + j * ldw, ldw, length, z + j * ldz, ldz);
}

// G(k .. k + Packets·size, j) for Outputs columns: a sum over the batch of input packets
// times a broadcast δ(b, j).
template <class S, int Packets, int Outputs>
inline void gradient_block(const S* x, Eigen::Index ldx, Eigen::Index batch, const S* delta,
                           Eigen::Index ldd, S* g, Eigen::Index ldg) {
  using namespace Eigen::internal;
  constexpr int size = packet_size<S>;
  Packet<S> sum[Packets][Outputs];
  for (int p = 0; p < Packets; ++p)
    for (int j = 0; j < Outputs; ++j) sum[p][j] = pset1<Packet<S>>(S(0));
  for (Eigen::Index b = 0; b < batch; ++b) {
    Packet<S> input[Packets];
    for (int p = 0; p < Packets; ++p) input[p] = ploadu<Packet<S>>(x + b * ldx + p * size);
    for (int j = 0; j < Outputs; ++j) {
      const Packet<S> d = pset1<Packet<S>>(delta[j * ldd + b]);
      for (int p = 0; p < Packets; ++p) sum[p][j] = pmadd(input[p], d, sum[p][j]);
    }
  }
  for (int p = 0; p < Packets; ++p)
    for (int j = 0; j < Outputs; ++j) pstoreu(g + j * ldg + p * size, sum[p][j]);
}

// Rows k .. k + Packets·size of G across every output column: whole blocks, then one column
// at a time.
template <class S, int Packets>
inline void gradient_band(const S* x, Eigen::Index ldx, Eigen::Index batch, const S* delta,
                          Eigen::Index ldd, Eigen::Index outputs, S* g, Eigen::Index ldg) {
  constexpr int cols = gradient_outputs;
  Eigen::Index j = 0;
  for (; j + cols <= outputs; j += cols)
    gradient_block<S, Packets, cols>(x, ldx, batch, delta + j * ldd, ldd, g + j * ldg, ldg);
  for (; j < outputs; ++j)
    gradient_block<S, Packets, 1>(x, ldx, batch, delta + j * ldd, ldd, g + j * ldg, ldg);
}

}  // namespace detail

// Whether packets load from `p` without straddling cache lines.
template <class S>
bool aligned(const S* p) {
  return reinterpret_cast<std::uintptr_t>(p) % sizeof(detail::Packet<S>) == 0;
}

// Whether the loops pay: from a few hundred inputs (images), where the products are large
// enough for Eigen's packing to cost and the dot products long against their reduction
// (bench/RESULTS.md: at 20–200 inputs Eigen's product is as fast or faster).
inline bool pays(Eigen::Index fan_in) { return fan_in >= 256; }

// z = xᵀ w.  x: fan_in × B, w: fan_in × fan_out, z: B × fan_out (resized by the caller).
// The inputs past the last whole packet are added by Eigen's product.
template <class S, class X, class W, class Z>
void forward(const X& x, const W& w, Z& z) {
  using namespace detail;
  constexpr int rows = forward_samples;
  const Eigen::Index fan_in = x.rows(), batch = x.cols(), outputs = w.cols();
  const Eigen::Index length = fan_in - fan_in % packet_size<S>;
  const S* xp = x.data();
  const S* wp = w.data();
  S* zp = z.data();
  const Eigen::Index ldx = x.outerStride(), ldw = w.outerStride(), ldz = z.outerStride();
  Eigen::Index b = 0;
  for (; b + rows <= batch; b += rows)
    forward_band<S, rows>(xp + b * ldx, ldx, wp, ldw, length, outputs, zp + b, ldz);
  for (; b < batch; ++b)
    forward_band<S, 1>(xp + b * ldx, ldx, wp, ldw, length, outputs, zp + b, ldz);
  if (length < fan_in)
    z.noalias() += x.bottomRows(fan_in - length).transpose() * w.bottomRows(fan_in - length);
}

// g = x δ.  x: fan_in × B, δ: B × fan_out, g: fan_in × fan_out. The rows past the last whole
// packet are Eigen's product.
template <class S, class X, class D, class G>
void gradient(const X& x, const D& delta, G& g) {
  using namespace detail;
  constexpr int size = packet_size<S>, packets = gradient_packets;
  const Eigen::Index fan_in = x.rows(), batch = x.cols(), outputs = delta.cols();
  const S* xp = x.data();
  const S* dp = delta.data();
  S* gp = g.data();
  const Eigen::Index ldx = x.outerStride(), ldd = delta.outerStride(), ldg = g.outerStride();
  Eigen::Index k = 0;
  for (; k + packets * size <= fan_in; k += packets * size)
    gradient_band<S, packets>(xp + k, ldx, batch, dp, ldd, outputs, gp + k, ldg);
  for (; k + size <= fan_in; k += size)
    gradient_band<S, 1>(xp + k, ldx, batch, dp, ldd, outputs, gp + k, ldg);
  if (k < fan_in) g.bottomRows(fan_in - k).noalias() = x.bottomRows(fan_in - k) * delta;
}

}  // namespace cdl::micro::first_layer
