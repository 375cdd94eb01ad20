using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// Register-blocked GEMM micro-kernels: C[MR, NR] (op)= alpha · Ap · Bp over one KC slice, where Ap is an MR-row
/// packed A micro-panel (kc × MR, k-major: Ap[p·MR + r]) and Bp is an NR-column packed B micro-panel (kc × NR,
/// k-major: Bp[p·NR + j]) from <see cref="GemmPacking"/>. Each k step loads NR/width B vectors, broadcasts MR A values
/// and issues MR·NR/width FMAs into accumulators that stay in registers (14×2 zmm accumulators + 2 B vectors + 1
/// broadcast = 31 of the 32 AVX-512 registers; the JIT keeps them all in registers, checked with DOTNET_JitDisasm).
/// Store: beta = 0 writes alpha·acc without reading C (NaN-safe), beta = 1 adds, otherwise alpha·acc + beta·C.
/// The C tile is prefetched before the k loop so its cache misses overlap the FMAs.
/// The tile must be full (MR valid rows, NR valid columns); <see cref="GemmDriver"/> routes edge tiles through a
/// scratch tile. The bodies follow one mechanical pattern (one statement per accumulator, rows in order; they were
/// produced by a small script), so an edit must be applied to every row and every kernel alike.
/// </summary>
internal static unsafe class GemmKernels
