using System;
using System.Collections.Generic;
using System.Threading.Tasks;

namespace TransReID.Evaluation;

/// <summary>
/// k-reciprocal re-ranking (Zhong et al., CVPR 2017) with the same steps as TransReID's <c>utils/reranking.py</c>
/// (the common NumPy implementation, also in FastReID); the NumPy twin is <c>tests/reference/eval_ref.py</c>.
/// </summary>
/// <remarks>
/// <para>Let D be the (q+g)² squared-Euclidean matrix [[qq, qg], [qgᵀ, gg]]. Upstream divides every column by its
/// maximum and transposes, so the working matrix is O[i, j] = D[j, i] / max_r D[r, i]. On O:</para>
/// <list type="number">
/// <item>rank each row ascending (stable: ties by index); only the first max(k1 + 1, k2) entries are kept;</item>
/// <item>R(i) = forward neighbours f in rank[i, :k1+1] with i in rank[f, :k1+1]; each candidate c in R(i) adds its
///   own round(k1/2)-reciprocal set R'(c) when |R'(c) ∩ R(i)| &gt; 2/3 |R'(c)| (round = half to even, as np.around);</item>
/// <item>V[i, R*(i)] = exp(−O[i, ·]) normalised to sum 1 over the expanded set R*(i);</item>
/// <item>local query expansion (k2 ≠ 1): V[i] ← mean of V over rank[i, :k2];</item>
/// <item>Jaccard distance 1 − s / (2 − s), s = Σ_c min(V[i, c], V[j, c]), through an inverted index on V's columns;</item>
/// <item>result = (1 − λ)·Jaccard + λ·O, the query × gallery block.</item>
/// </list>
/// <para>V and the Jaccard sums are float32 here; upstream stores them as float16. The (q+g)² matrices V and O are
/// never materialised densely: V is kept as sparse rows, O is formed block-wise from the three input blocks.</para>
/// </remarks>
public static class ReRanking
{
    private const int RowBlock = 32;

    /// <summary>
    /// Re-ranked [qCount, gCount] distances from the squared-Euclidean blocks <paramref name="qg"/> [qCount, gCount],
    /// <paramref name="qq"/> [qCount, qCount] and <paramref name="gg"/> [gCount, gCount] (row-major).
    /// </summary>
    public static float[] Apply(float[] qg, float[] qq, float[] gg, int qCount, int gCount, ReRankingOptions o)
    {
        ArgumentNullException.ThrowIfNull(qg);
        ArgumentNullException.ThrowIfNull(qq);
        ArgumentNullException.ThrowIfNull(gg);
        ArgumentNullException.ThrowIfNull(o);
        o.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(qCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(gCount, 1);
        CheckLength(qg, (long)qCount * gCount, nameof(qg), $"{qCount} x {gCount}");
        CheckLength(qq, (long)qCount * qCount, nameof(qq), $"{qCount} x {qCount}");
        CheckLength(gg, (long)gCount * gCount, nameof(gg), $"{gCount} x {gCount}");
        if ((long)qCount + gCount > int.MaxValue / 2)
        {
            throw new ArgumentException($"qCount + gCount = {(long)qCount + gCount} is too large for re-ranking.");
        }

        ReidEvaluator.ThrowIfNaN(qg, gCount, nameof(qg));
        ReidEvaluator.ThrowIfNaN(qq, qCount, nameof(qq));
        ReidEvaluator.ThrowIfNaN(gg, gCount, nameof(gg));
        var d = new Blocks(qg, qq, gg, qCount, gCount);
        int n = d.N;
        float[] colMax = ColumnMax(d);
        int keep = Math.Min(n, Math.Max(o.K1 + 1, o.K2));
        var rank = new int[(long)n * keep];
        var originalQG = new float[qg.Length];
        InitialRank(d, colMax, keep, rank, originalQG);

        var v = new SparseRow[n];
        int forwardCount = Math.Min(o.K1 + 1, n);
        int halfCount = Math.Min((int)Math.Round(o.K1 / 2.0, MidpointRounding.ToEven) + 1, n);
        Parallel.For(0, n, () => new RowScratch(n), (i, _, s) =>
        {
            v[i] = ReciprocalWeights(d, colMax, rank, keep, i, forwardCount, halfCount, s);
            return s;
        }, _ => { });

        if (o.K2 != 1)
        {
            var expanded = new SparseRow[n];
            int k2 = Math.Min(o.K2, n);
            Parallel.For(0, n, () => new RowScratch(n), (i, _, s) =>
            {
                expanded[i] = QueryExpansion(v, rank.AsSpan(i * keep, k2), s);
                return s;
            }, _ => { });
            v = expanded;
        }

        InvertedIndex inverted = InvertedIndex.Build(v, n);
        var result = new float[qg.Length];
        float jaccardWeight = (float)(1 - o.Lambda);
        float originalWeight = (float)o.Lambda;
        Parallel.For(0, qCount, () => new float[n], (i, _, minSum) =>
        {
            Array.Clear(minSum);
            SparseRow row = v[i];
            for (int t = 0; t < row.Index.Length; t++)
            {
                int c = row.Index[t];
                float vi = row.Value[t];
                for (int p = inverted.Start[c]; p < inverted.Start[c + 1]; p++)
                {
                    minSum[inverted.Row[p]] += Math.Min(vi, inverted.Value[p]);
                }
            }

            for (int j = 0; j < gCount; j++)
            {
                float s = minSum[qCount + j];
                float jaccard = 1f - (s / (2f - s));
                result[(i * gCount) + j] = (jaccard * jaccardWeight) + (originalQG[(i * gCount) + j] * originalWeight);
            }

            return minSum;
        }, _ => { });
        return result;
    }

    // ------------------------------------------------------------------------------------------------------------

    /// <summary>max_r D[r, c] for every column c, scanning D row by row (max is exact in any order).</summary>
    private static float[] ColumnMax(Blocks d)
    {
        int n = d.N;
        var max = new float[n];
        max.AsSpan().Fill(float.NegativeInfinity);
        var gate = new object();
        Parallel.For(0, (n + RowBlock - 1) / RowBlock, () => NewFilled(n), (block, _, local) =>
        {
            int end = Math.Min(n, (block + 1) * RowBlock);
            for (int r = block * RowBlock; r < end; r++)
            {
                for (int c = 0; c < n; c++)
                {
                    float x = d[r, c];
                    if (x > local[c])
                    {
                        local[c] = x;
                    }
                }
            }

            return local;
        }, local =>
        {
            lock (gate)
            {
                for (int c = 0; c < n; c++)
                {
                    max[c] = Math.Max(max[c], local[c]);
                }
            }
        });

        for (int c = 0; c < n; c++)
        {
            if (!(max[c] > 0) || float.IsInfinity(max[c]))
            {
                throw new ArgumentException(
                    $"re-ranking: column {c} of the distance matrix has maximum {max[c]}; it must be finite and positive to normalise.");
            }
        }

        return max;
    }

    private static float[] NewFilled(int n)
    {
        var a = new float[n];
        a.AsSpan().Fill(float.NegativeInfinity);
        return a;
    }

    /// <summary>
    /// For every row i of O: rank[i, :keep] (ascending, ties by index), and O[i, q + j] for query rows.
    /// O rows are built RowBlock at a time from D's columns, reading D row by row.
    /// </summary>
    private static void InitialRank(Blocks d, float[] colMax, int keep, int[] rank, float[] originalQG)
    {
        int n = d.N;
        int q = d.Q;
        int g = d.G;
        Parallel.For(0, (n + RowBlock - 1) / RowBlock, () => (new float[RowBlock * n], new ulong[keep]), (block, _, scratch) =>
        {
            (float[] o, ulong[] heap) = scratch;
            int i0 = block * RowBlock;
            int rows = Math.Min(RowBlock, n - i0);
            for (int j = 0; j < n; j++)
            {
                for (int t = 0; t < rows; t++)
                {
                    o[(t * n) + j] = d[j, i0 + t] / colMax[i0 + t];
                }
            }

            for (int t = 0; t < rows; t++)
            {
                int i = i0 + t;
                ReadOnlySpan<float> row = o.AsSpan(t * n, n);
                SmallestIndices(row, heap, rank.AsSpan(i * keep, keep));
                if (i < q)
                {
                    row.Slice(q, g).CopyTo(originalQG.AsSpan(i * g, g));
                }
            }

            return scratch;
        }, _ => { });
    }

    /// <summary>
    /// Indices of the destination.Length smallest values by (value, index), ascending: the same as the first entries
    /// of a stable argsort. A bounded max-heap of packed (ordered value bits, index) keys.
    /// </summary>
    internal static void SmallestIndices(ReadOnlySpan<float> values, ulong[] heap, Span<int> destination)
    {
        int k = destination.Length;
        for (int j = 0; j < k; j++)
        {
            heap[j] = ReidEvaluator.Key(values[j], j);
        }

        // Build a max-heap over the first k keys.
        for (int p = (k / 2) - 1; p >= 0; p--)
        {
            SiftDown(heap, p, k);
        }

        for (int j = k; j < values.Length; j++)
        {
            ulong key = ReidEvaluator.Key(values[j], j);
            if (key < heap[0])
            {
                heap[0] = key;
                SiftDown(heap, 0, k);
            }
        }

        heap.AsSpan(0, k).Sort();
        for (int t = 0; t < k; t++)
        {
            destination[t] = (int)(uint)heap[t];
        }
    }

    private static void SiftDown(ulong[] heap, int p, int count)
    {
        ulong item = heap[p];
        while (true)
        {
            int child = (2 * p) + 1;
            if (child >= count)
            {
                break;
            }

            if (child + 1 < count && heap[child + 1] > heap[child])
            {
                child++;
            }

            if (heap[child] <= item)
            {
                break;
            }

            heap[p] = heap[child];
            p = child;
        }

        heap[p] = item;
    }

    /// <summary>Row i of V: the expanded k-reciprocal set with exp(−O) weights normalised to sum 1.</summary>
    private static SparseRow ReciprocalWeights(Blocks d, float[] colMax, int[] rank, int keep, int i, int forwardCount, int halfCount,
        RowScratch s)
    {
        List<int> reciprocal = s.Reciprocal;
        List<int> candidateSet = s.Candidate;
        reciprocal.Clear();
        ReciprocalSet(rank, keep, i, forwardCount, reciprocal);

        // Mark R(i) for the overlap test and the union; s.Mark is all false on entry and on exit.
        bool[] inExpanded = s.Mark;
        List<int> expanded = s.Expanded;
        expanded.Clear();
        foreach (int x in reciprocal)
        {
            inExpanded[x] = true;
            expanded.Add(x);
        }

        foreach (int candidate in reciprocal)
        {
            candidateSet.Clear();
            ReciprocalSet(rank, keep, candidate, halfCount, candidateSet);
            int overlap = 0;
            foreach (int x in candidateSet)
            {
                if (Contains(reciprocal, x))
                {
                    overlap++;
                }
            }

            if (overlap > 2.0 / 3.0 * candidateSet.Count)
            {
                foreach (int x in candidateSet)
                {
                    if (!inExpanded[x])
                    {
                        inExpanded[x] = true;
                        expanded.Add(x);
                    }
                }
            }
        }

        expanded.Sort();
        var index = expanded.ToArray();
        var value = new float[index.Length];
        double sum = 0;
        for (int t = 0; t < index.Length; t++)
        {
            inExpanded[index[t]] = false;
            value[t] = MathF.Exp(-(d[index[t], i] / colMax[i]));
            sum += value[t];
        }

        float total = (float)sum;
        for (int t = 0; t < value.Length; t++)
        {
            value[t] /= total;
        }

        return new SparseRow(index, value);
    }

    /// <summary>Members f of rank[i, :count] whose own rank[f, :count] contains i, in rank order.</summary>
    private static void ReciprocalSet(int[] rank, int keep, int i, int count, List<int> destination)
    {
        ReadOnlySpan<int> forward = rank.AsSpan(i * keep, count);
        foreach (int f in forward)
        {
            if (rank.AsSpan(f * keep, count).Contains(i))
            {
                destination.Add(f);
            }
        }
    }

    private static bool Contains(List<int> list, int x)
    {
        foreach (int y in list)
        {
            if (y == x)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Mean of the V rows listed in <paramref name="neighbours"/>, summed in that order (float32).</summary>
    private static SparseRow QueryExpansion(SparseRow[] v, ReadOnlySpan<int> neighbours, RowScratch s)
    {
        float[] acc = s.Accumulator;
        bool[] touched = s.Mark;
        List<int> support = s.Expanded;
        support.Clear();
        foreach (int r in neighbours)
        {
            SparseRow row = v[r];
            for (int t = 0; t < row.Index.Length; t++)
            {
                int c = row.Index[t];
                if (!touched[c])
                {
                    touched[c] = true;
                    support.Add(c);
                }

                acc[c] += row.Value[t];
            }
        }

        support.Sort();
        var index = support.ToArray();
        var value = new float[index.Length];
        float count = neighbours.Length;
        for (int t = 0; t < index.Length; t++)
        {
            int c = index[t];
            value[t] = acc[c] / count;
            acc[c] = 0;
            touched[c] = false;
        }

        return new SparseRow(index, value);
    }

    private static void CheckLength(float[] values, long expected, string name, string shape)
    {
        if (values.Length != expected)
        {
            throw new ArgumentException($"{name} has {values.Length} entries; expected {shape} = {expected}.", name);
        }
    }

    /// <summary>Sorted column indices and values of one sparse row of V.</summary>
    private sealed record SparseRow(int[] Index, float[] Value);

    /// <summary>Per-thread buffers; Mark and Accumulator are returned all-false / all-zero after every use.</summary>
    private sealed class RowScratch(int n)
    {
        public List<int> Reciprocal { get; } = [];

        public List<int> Candidate { get; } = [];

        public List<int> Expanded { get; } = [];

        public bool[] Mark { get; } = new bool[n];

        public float[] Accumulator { get; } = new float[n];
    }

    /// <summary>Column-major copy of sparse V: for column c, rows Row[Start[c]..Start[c+1]) ascending, with values.</summary>
    private sealed class InvertedIndex
    {
        private InvertedIndex(int[] start, int[] row, float[] value)
        {
            Start = start;
            Row = row;
            Value = value;
        }

        public int[] Start { get; }

        public int[] Row { get; }

        public float[] Value { get; }

        public static InvertedIndex Build(SparseRow[] v, int n)
        {
            var start = new int[n + 1];
            foreach (SparseRow row in v)
            {
                foreach (int c in row.Index)
                {
                    start[c + 1]++;
                }
            }

            for (int c = 0; c < n; c++)
            {
                start[c + 1] += start[c];
            }

            var fill = start.AsSpan(0, n).ToArray();
            var rows = new int[start[n]];
            var values = new float[start[n]];
            for (int r = 0; r < v.Length; r++)
            {
                SparseRow row = v[r];
                for (int t = 0; t < row.Index.Length; t++)
                {
                    int p = fill[row.Index[t]]++;
                    rows[p] = r;
                    values[p] = row.Value[t];
                }
            }

            return new InvertedIndex(start, rows, values);
        }
    }

    /// <summary>D = [[qq, qg], [qgᵀ, gg]] read in place.</summary>
    private readonly struct Blocks(float[] qg, float[] qq, float[] gg, int q, int g)
    {
        public int Q => q;

        public int G => g;

        public int N => q + g;

        public float this[int r, int c] =>
            r < q
                ? (c < q ? qq[(r * q) + c] : qg[(r * g) + c - q])
                : (c < q ? qg[(c * g) + r - q] : gg[((r - q) * g) + c - q]);
    }
}
