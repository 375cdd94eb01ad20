using System;
using TransReID.Shapes;

namespace TransReID.Runtime;

/// <summary>
/// Argument checks shared by the backends (<see cref="BackendBase"/> runs them before every op): each message names
/// the op and the argument. A check that returns <c>bool</c> returns false when the call has nothing to do (an empty
/// tensor), after checking what must hold even then. Only what is known on the host is checked: values in backend
/// memory (labels, SIE indices) are not read, so SIE indices are checked where they are made
/// (<see cref="Model.InputValidation.SieIndices"/>), and only their pointer here.
/// </summary>
internal static class BackendChecks
{
    public static void NotNull(DevicePtr p, string name, string op)
    {
        if (p.IsNull) throw new ArgumentNullException(name, $"{op}: {name} must not be null.");
    }

    public static void Positive(long value, string name, string op)
    {
        if (value <= 0) throw new ArgumentOutOfRangeException(name, value, $"{op}: {name} must be positive.");
    }

    public static void NonNegative(long value, string name, string op)
    {
        if (value < 0) throw new ArgumentOutOfRangeException(name, value, $"{op}: {name} must not be negative.");
    }

    /// <summary>Throws when <paramref name="count"/> is negative; false when it is 0 (the call has nothing to do).</summary>
    private static bool AnyElements(long count, string name, string op)
    {
        NonNegative(count, name, op);
        return count != 0;
    }

    // ---- per op: each op's argument contract, stated once for every backend ----

    /// <summary>Arguments of <see cref="IBackend.Allocate"/>.</summary>
    public static void Allocate(long elements)
    {
        if (elements < 0) throw new ArgumentOutOfRangeException(nameof(elements), elements, "Cannot allocate a negative number of elements.");
    }

    /// <summary>Arguments of <see cref="IBackend.Upload(ReadOnlySpan{float}, DevicePtr)"/> and <see cref="IBackend.Download"/>: false when empty.</summary>
    public static bool Transfer(int length, DevicePtr p, string name, string op)
    {
        if (length == 0) return false;
        NotNull(p, name, op);
        return true;
    }

    /// <summary>Arguments of <see cref="IBackend.Zero"/>: false when empty.</summary>
    public static bool Zero(DevicePtr destination, long elements)
    {
        const string op = nameof(IBackend.Zero);
        if (!AnyElements(elements, nameof(elements), op)) return false;
        NotNull(destination, nameof(destination), op);
        return true;
    }

    /// <summary>Arguments of <see cref="IBackend.Copy"/>: false when empty.</summary>
    public static bool Copy(DevicePtr source, DevicePtr destination, long elements)
    {
        const string op = nameof(IBackend.Copy);
        if (!AnyElements(elements, nameof(elements), op)) return false;
        NotNull(source, nameof(source), op); NotNull(destination, nameof(destination), op);
        return true;
    }

    /// <summary>Arguments of <see cref="IBackend.DeclareConstantWeights"/>: a range needs its start (0 elements ends it).</summary>
    public static void DeclareConstantWeights(DevicePtr start, long elements)
    {
        const string op = nameof(IBackend.DeclareConstantWeights);
        if (AnyElements(elements, nameof(elements), op)) NotNull(start, nameof(start), op);
    }

    /// <summary>Arguments of <see cref="IBackend.Linear"/>.</summary>
    public static void Linear(DevicePtr x, int ldx, DevicePtr w, DevicePtr b, DevicePtr y, int ldy, int m, int k, int n)
    {
        const string op = nameof(IBackend.Linear);
        Positive(m, nameof(m), op); Positive(k, nameof(k), op); Positive(n, nameof(n), op);
        NotNull(x, nameof(x), op); NotNull(w, nameof(w), op); NotNull(y, nameof(y), op);
        if (ldx < k) throw new ArgumentOutOfRangeException(nameof(ldx), ldx, $"{op}: x's rows must be at least k = {k} floats apart.");
        if (ldy < n) throw new ArgumentOutOfRangeException(nameof(ldy), ldy, $"{op}: y's rows must be at least n = {n} floats apart.");
    }

    /// <summary>Arguments of <see cref="IBackend.LinearBackward"/>.</summary>
    public static void LinearBackward(DevicePtr dy, DevicePtr x, DevicePtr w, DevicePtr dx, DevicePtr dw, DevicePtr db, int m, int k, int n, bool accumulateDx)
    {
        const string op = nameof(IBackend.LinearBackward);
        Positive(m, nameof(m), op); Positive(k, nameof(k), op); Positive(n, nameof(n), op);
        NotNull(dy, nameof(dy), op);
        if (!dx.IsNull) NotNull(w, nameof(w), op);
        if (!dw.IsNull) NotNull(x, nameof(x), op);
    }

    /// <summary>Arguments of <see cref="IBackend.PatchEmbed"/>.</summary>
    public static void PatchEmbed(DevicePtr images, DevicePtr cols, DevicePtr w, DevicePtr b, DevicePtr y, int batch, int channels, int height, int width, int patch, int strideY, int strideX, int gridY, int gridX, int dim)
    {
        const string op = nameof(IBackend.PatchEmbed);
        Positive(batch, nameof(batch), op); Positive(channels, nameof(channels), op); Positive(height, nameof(height), op);
        Positive(width, nameof(width), op); Positive(patch, nameof(patch), op); Positive(strideY, nameof(strideY), op);
        Positive(strideX, nameof(strideX), op); Positive(gridY, nameof(gridY), op); Positive(gridX, nameof(gridX), op);
        Positive(dim, nameof(dim), op);
        if ((long)(gridY - 1) * strideY + patch > height || (long)(gridX - 1) * strideX + patch > width)
            throw new ArgumentException(
                $"{op}: a {gridY}x{gridX} grid of {patch}-pixel patches with stride ({strideY}, {strideX}) does not fit a {height}x{width} image.");
        NotNull(images, nameof(images), op); NotNull(cols, nameof(cols), op); NotNull(w, nameof(w), op); NotNull(y, nameof(y), op);
    }

    /// <summary>Arguments of <see cref="IBackend.PatchEmbedBackward"/>.</summary>
    public static void PatchEmbedBackward(DevicePtr dy, DevicePtr cols, DevicePtr dw, DevicePtr db, int rows, int colsPerRow, int dim)
    {
        const string op = nameof(IBackend.PatchEmbedBackward);
        Positive(rows, nameof(rows), op); Positive(colsPerRow, nameof(colsPerRow), op); Positive(dim, nameof(dim), op);
        NotNull(dy, nameof(dy), op); NotNull(cols, nameof(cols), op); NotNull(dw, nameof(dw), op);
    }

    /// <summary>Arguments of <see cref="IBackend.TokenEmbed"/> (sieIndex is checked only when sie is used, and only for null).</summary>
    public static void TokenEmbed(DevicePtr patches, DevicePtr cls, DevicePtr pos, DevicePtr sie, DevicePtr sieIndex, float coef, DevicePtr x, int batch, int tokens, int dim)
    {
        const string op = nameof(IBackend.TokenEmbed);
        CheckTokens(op, batch, tokens, dim);
        NotNull(patches, nameof(patches), op); NotNull(cls, nameof(cls), op); NotNull(pos, nameof(pos), op); NotNull(x, nameof(x), op);
        if (!sie.IsNull) NotNull(sieIndex, nameof(sieIndex), op);
        long xBytes = (long)batch * tokens * dim * 4, pBytes = (long)batch * (tokens - 1) * dim * 4;
        if (patches.Address < x.Address + xBytes && x.Address < patches.Address + pBytes)
            throw new ArgumentException($"{op}: patches ({patches}) and x ({x}) overlap; the token embedding is not in place.");
    }

    /// <summary>Arguments of <see cref="IBackend.TokenEmbedBackward"/> (sieIndex is checked only when dsie is used, and only for null).</summary>
    public static void TokenEmbedBackward(DevicePtr dx, DevicePtr dpatches, DevicePtr dcls, DevicePtr dpos, DevicePtr dsie, DevicePtr sieIndex, float coef, int batch, int tokens, int dim)
    {
        const string op = nameof(IBackend.TokenEmbedBackward);
        CheckTokens(op, batch, tokens, dim);
        NotNull(dx, nameof(dx), op);
        if (!dsie.IsNull) NotNull(sieIndex, nameof(sieIndex), op);
    }

    /// <summary>Arguments of <see cref="IBackend.LayerNorm"/>.</summary>
    public static void LayerNorm(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr y, DevicePtr mean, DevicePtr rstd, int rows, int dim, float eps)
    {
        const string op = nameof(IBackend.LayerNorm);
        Positive(rows, nameof(rows), op); Positive(dim, nameof(dim), op);
        NotNull(x, nameof(x), op); NotNull(gamma, nameof(gamma), op); NotNull(beta, nameof(beta), op); NotNull(y, nameof(y), op);
        NotNull(mean, nameof(mean), op); NotNull(rstd, nameof(rstd), op);
    }

    /// <summary>Arguments of <see cref="IBackend.LayerNormBackward"/>.</summary>
    public static void LayerNormBackward(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, DevicePtr dx, DevicePtr dgamma, DevicePtr dbeta, int rows, int dim, bool accumulateDx)
    {
        const string op = nameof(IBackend.LayerNormBackward);
        Positive(rows, nameof(rows), op); Positive(dim, nameof(dim), op);
        NotNull(dy, nameof(dy), op); NotNull(x, nameof(x), op); NotNull(gamma, nameof(gamma), op); NotNull(mean, nameof(mean), op);
        NotNull(rstd, nameof(rstd), op); NotNull(dx, nameof(dx), op);
    }

    /// <summary>Arguments of <see cref="IBackend.BatchNormTrain"/>.</summary>
    public static void BatchNormTrain(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr y, DevicePtr mean, DevicePtr rstd, DevicePtr runningMean, DevicePtr runningVar, int rows, int channels, float eps, float momentum)
    {
        const string op = nameof(IBackend.BatchNormTrain);
        if (rows < 2)
            throw new ArgumentOutOfRangeException(nameof(rows), rows, $"{op}: training-mode batch norm needs more than one value per channel (rows = {rows}).");
        Positive(channels, nameof(channels), op);
        NotNull(x, nameof(x), op); NotNull(gamma, nameof(gamma), op); NotNull(y, nameof(y), op);
        NotNull(mean, nameof(mean), op); NotNull(rstd, nameof(rstd), op);
    }

    /// <summary>Arguments of <see cref="IBackend.BatchNormEval"/>.</summary>
    public static void BatchNormEval(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr runningMean, DevicePtr runningVar, DevicePtr y, int rows, int channels, float eps)
    {
        const string op = nameof(IBackend.BatchNormEval);
        Positive(rows, nameof(rows), op); Positive(channels, nameof(channels), op);
        NotNull(x, nameof(x), op); NotNull(gamma, nameof(gamma), op); NotNull(runningMean, nameof(runningMean), op);
        NotNull(runningVar, nameof(runningVar), op); NotNull(y, nameof(y), op);
    }

    /// <summary>Arguments of <see cref="IBackend.BatchNormEvalBackward"/>.</summary>
    public static void BatchNormEvalBackward(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr runningMean, DevicePtr runningVar, DevicePtr dx, DevicePtr dgamma, DevicePtr dbeta, int rows, int channels, float eps, bool accumulateDx)
    {
        const string op = nameof(IBackend.BatchNormEvalBackward);
        Positive(rows, nameof(rows), op); Positive(channels, nameof(channels), op);
        NotNull(dy, nameof(dy), op); NotNull(x, nameof(x), op); NotNull(gamma, nameof(gamma), op);
        NotNull(runningMean, nameof(runningMean), op); NotNull(runningVar, nameof(runningVar), op); NotNull(dx, nameof(dx), op);
    }

    /// <summary>Arguments of <see cref="IBackend.BatchNormBackward"/>.</summary>
    public static void BatchNormBackward(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, DevicePtr dx, DevicePtr dgamma, DevicePtr dbeta, int rows, int channels, bool accumulateDx)
    {
        const string op = nameof(IBackend.BatchNormBackward);
        Positive(rows, nameof(rows), op); Positive(channels, nameof(channels), op);
        NotNull(dy, nameof(dy), op); NotNull(x, nameof(x), op); NotNull(gamma, nameof(gamma), op); NotNull(mean, nameof(mean), op);
        NotNull(rstd, nameof(rstd), op); NotNull(dx, nameof(dx), op);
    }

    /// <summary>Arguments of <see cref="IBackend.Attention"/> (queries = tokens) and <see cref="IBackend.AttentionQueries"/>.</summary>
    public static void Attention(DevicePtr qkv, DevicePtr probs, DevicePtr y, int batch, int tokens, int queries, int heads, int headDim, float scale,
        string op = nameof(IBackend.Attention))
    {
        Positive(batch, nameof(batch), op); Positive(tokens, nameof(tokens), op); Positive(heads, nameof(heads), op); Positive(headDim, nameof(headDim), op);
        if (queries < 1 || queries > tokens)
            throw new ArgumentOutOfRangeException(nameof(queries), queries, $"{op}: queries must be 1 to {tokens} (the tokens).");
        NotNull(qkv, nameof(qkv), op); NotNull(probs, nameof(probs), op); NotNull(y, nameof(y), op);
    }

    /// <summary>Arguments of <see cref="IBackend.AttentionBackward"/>.</summary>
    public static void AttentionBackward(DevicePtr dy, DevicePtr qkv, DevicePtr probs, DevicePtr dqkv, DevicePtr scratch, int batch, int tokens, int heads, int headDim, float scale)
    {
        const string op = nameof(IBackend.AttentionBackward);
        Positive(batch, nameof(batch), op); Positive(tokens, nameof(tokens), op); Positive(heads, nameof(heads), op); Positive(headDim, nameof(headDim), op);
        NotNull(dy, nameof(dy), op); NotNull(qkv, nameof(qkv), op); NotNull(probs, nameof(probs), op); NotNull(dqkv, nameof(dqkv), op);
        NotNull(scratch, nameof(scratch), op);
    }

    /// <summary>Arguments of <see cref="IBackend.Gelu"/>: false when empty.</summary>
    public static bool Gelu(DevicePtr x, DevicePtr y, long n)
    {
        const string op = nameof(IBackend.Gelu);
        if (!AnyElements(n, nameof(n), op)) return false;
        NotNull(x, nameof(x), op); NotNull(y, nameof(y), op);
        return true;
    }

    /// <summary>Arguments of <see cref="IBackend.GeluBackward"/>: false when empty.</summary>
    public static bool GeluBackward(DevicePtr dy, DevicePtr x, DevicePtr dx, long n)
    {
        const string op = nameof(IBackend.GeluBackward);
        if (!AnyElements(n, nameof(n), op)) return false;
        NotNull(dy, nameof(dy), op); NotNull(x, nameof(x), op); NotNull(dx, nameof(dx), op);
        return true;
    }

    /// <summary>Arguments of <see cref="IBackend.Residual"/>.</summary>
    public static void Residual(DevicePtr x, DevicePtr branch, DevicePtr scale, DevicePtr y, int batch, long rowLength)
    {
        const string op = nameof(IBackend.Residual);
        Positive(batch, nameof(batch), op); Positive(rowLength, nameof(rowLength), op);
        NotNull(x, nameof(x), op); NotNull(branch, nameof(branch), op); NotNull(y, nameof(y), op);
    }

    /// <summary>Arguments of <see cref="IBackend.ScaleRows"/>.</summary>
    public static void ScaleRows(DevicePtr src, DevicePtr scale, DevicePtr dst, int batch, long rowLength)
    {
        const string op = nameof(IBackend.ScaleRows);
        Positive(batch, nameof(batch), op); Positive(rowLength, nameof(rowLength), op);
        NotNull(src, nameof(src), op); NotNull(dst, nameof(dst), op);
    }

    /// <summary>Arguments of <see cref="IBackend.CopyRows"/>: false when empty.</summary>
    public static bool CopyRows(DevicePtr src, long srcStride, DevicePtr dst, long dstStride, int rows, int rowLength, float alpha, bool accumulate)
    {
        const string op = nameof(IBackend.CopyRows);
        NonNegative(rows, nameof(rows), op); NonNegative(rowLength, nameof(rowLength), op);
        if (rows == 0 || rowLength == 0) return false;
        if (srcStride < rowLength && rows > 1)
            throw new ArgumentOutOfRangeException(nameof(srcStride), srcStride, $"{op}: srcStride {srcStride} is shorter than rowLength {rowLength}.");
        if (dstStride < rowLength && rows > 1)
            throw new ArgumentOutOfRangeException(nameof(dstStride), dstStride, $"{op}: dstStride {dstStride} is shorter than rowLength {rowLength}.");
        NotNull(src, nameof(src), op); NotNull(dst, nameof(dst), op);
        return true;
    }

    /// <summary>Arguments of <see cref="IBackend.JpmGather"/>.</summary>
    public static void JpmGather(DevicePtr x, DevicePtr parts, int batch, int patchCount, int dim, int partCount, int partLength, int shift, int groups, bool rearrange)
    {
        const string op = nameof(IBackend.JpmGather);
        CheckJpm(op, batch, patchCount, dim, partCount, partLength, groups, rearrange);
        NotNull(x, nameof(x), op); NotNull(parts, nameof(parts), op);
    }

    /// <summary>Arguments of <see cref="IBackend.JpmGatherBackward"/>.</summary>
    public static void JpmGatherBackward(DevicePtr dparts, DevicePtr dx, int batch, int patchCount, int dim, int partCount, int partLength, int shift, int groups, bool rearrange)
    {
        const string op = nameof(IBackend.JpmGatherBackward);
        CheckJpm(op, batch, patchCount, dim, partCount, partLength, groups, rearrange);
        NotNull(dparts, nameof(dparts), op); NotNull(dx, nameof(dx), op);
    }

    /// <summary>Arguments of <see cref="IBackend.CrossEntropy"/>.</summary>
    public static void CrossEntropy(DevicePtr logits, DevicePtr labels, DevicePtr loss, DevicePtr dlogits, int rows, int classes, float smoothing, float gradScale)
    {
        const string op = nameof(IBackend.CrossEntropy);
        Positive(rows, nameof(rows), op); Positive(classes, nameof(classes), op);
        if (!(smoothing >= 0 && smoothing <= 1))
            throw new ArgumentOutOfRangeException(nameof(smoothing), smoothing, $"{op}: label smoothing must lie in [0, 1].");
        NotNull(logits, nameof(logits), op); NotNull(labels, nameof(labels), op); NotNull(loss, nameof(loss), op); NotNull(dlogits, nameof(dlogits), op);
    }

    /// <summary>Arguments of <see cref="IBackend.Triplet"/> (labels live in backend memory and are not read).</summary>
    public static void Triplet(DevicePtr x, DevicePtr labels, DevicePtr loss, DevicePtr dx, DevicePtr scratch, int rows, int dim, float margin, bool normalize, float gradScale, bool accumulateDx)
    {
        const string op = nameof(IBackend.Triplet);
        Positive(rows, nameof(rows), op); Positive(dim, nameof(dim), op);
        NotNull(x, nameof(x), op); NotNull(labels, nameof(labels), op); NotNull(loss, nameof(loss), op); NotNull(dx, nameof(dx), op);
        NotNull(scratch, nameof(scratch), op);
    }

    /// <summary>Arguments of <see cref="IBackend.SgdStep"/>: false when empty.</summary>
    public static bool SgdStep(DevicePtr param, DevicePtr grad, DevicePtr momentumBuffer, long n, float lr, float momentum, float weightDecay, bool firstStep)
    {
        const string op = nameof(IBackend.SgdStep);
        if (!AnyElements(n, nameof(n), op)) return false;
        NotNull(param, nameof(param), op); NotNull(grad, nameof(grad), op);
        if (momentum != 0) NotNull(momentumBuffer, nameof(momentumBuffer), op);
        return true;
    }

    /// <summary>Arguments of <see cref="IBackend.AdamWStep"/>: false when empty.</summary>
    public static bool AdamWStep(DevicePtr param, DevicePtr grad, DevicePtr m, DevicePtr v, long n, float lr, float beta1, float beta2, float eps, float weightDecay, int step)
    {
        const string op = nameof(IBackend.AdamWStep);
        NonNegative(n, nameof(n), op);
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, $"{op}: step starts at 1.");
        if (n == 0) return false;
        NotNull(param, nameof(param), op); NotNull(grad, nameof(grad), op); NotNull(m, nameof(m), op); NotNull(v, nameof(v), op);
        return true;
    }

    private static void CheckTokens(string op, int batch, int tokens, int dim)
    {
        Positive(batch, nameof(batch), op); Positive(dim, nameof(dim), op);
        if (tokens < 2) throw new ArgumentOutOfRangeException(nameof(tokens), tokens, $"{op}: tokens (N + 1) must be at least 2.");
    }

    private static void CheckJpm(string op, int batch, int patchCount, int dim, int partCount, int partLength, int groups, bool rearrange)
    {
        Positive(batch, nameof(batch), op); Positive(patchCount, nameof(patchCount), op); Positive(dim, nameof(dim), op);
        Positive(partCount, nameof(partCount), op); Positive(partLength, nameof(partLength), op);
        if ((long)partCount * partLength > patchCount)
            throw new ArgumentException($"{op}: {partCount} parts of {partLength} tokens need more than the {patchCount} patches.");
        if (rearrange && !ShapeMath.ShuffleAllowed(patchCount, groups))
            throw new ArgumentException($"{op}: {patchCount} patches cannot be shuffled into {groups} groups (N or N + 1 must be divisible by it).");
    }
}
