using System;
using System.Collections.Generic;
using System.Linq;

namespace TransReID.Data;

/// <summary>
/// The PK sampler of docs/model.md#identity-sampler (<c>datasets/sampler.py</c>, <c>RandomIdentitySampler</c>): batches of
/// P distinct identities × K images each.
/// </summary>
/// <remarks>
/// Each epoch, for every identity (ascending label): take its image indices, up-sample to K with replacement when it
/// has fewer than K, shuffle, cut into chunks of K (remainder dropped). Then, while at least P identities still have
/// chunks: pick P distinct identities uniformly among them (in the order drawn), emit the next chunk of each, and retire
/// identities whose chunks are used up. The whole state is (seed, epoch): <see cref="EpochBatches"/> regenerates any
/// epoch exactly, which is all a checkpoint needs to resume.
/// </remarks>
public sealed class RandomIdentitySampler
{
    private readonly int[][] _indicesByIdentity; // identity label → its sample indices (ascending)

    /// <param name="identities">The identity label of every sample (e.g. the train split's relabelled identities).</param>
    /// <param name="identitiesPerBatch">P (16 in the Market recipe).</param>
    /// <param name="instancesPerIdentity">K (4).</param>
    /// <param name="seed">Base seed; epoch e uses a generator derived from (seed, e).</param>
    public RandomIdentitySampler(IReadOnlyList<int> identities, int identitiesPerBatch, int instancesPerIdentity, int seed)
    {
        ArgumentNullException.ThrowIfNull(identities);
        ArgumentOutOfRangeException.ThrowIfLessThan(identitiesPerBatch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(instancesPerIdentity, 1);
        P = identitiesPerBatch;
        K = instancesPerIdentity;
        Seed = seed;
        var groups = new SortedDictionary<int, List<int>>();
        for (int i = 0; i < identities.Count; i++)
        {
            if (!groups.TryGetValue(identities[i], out var list))
            {
                groups[identities[i]] = list = [];
            }

            list.Add(i);
        }

        _indicesByIdentity = [.. groups.Values.Select(l => l.ToArray())];
        if (_indicesByIdentity.Length < P)
        {
            throw new ArgumentException(
                $"the sampler needs at least P = {P} identities per batch but the data has {_indicesByIdentity.Length}",
                nameof(identities));
        }

        // Same estimate as the official __len__: Σ over identities of max(n, K) rounded down to a multiple of K.
        EstimatedSamplesPerEpoch = _indicesByIdentity.Sum(ix => Math.Max(ix.Length, K) / K * K);
    }

    /// <summary>Creates the sampler for a split's identities.</summary>
    public RandomIdentitySampler(ReidSplit split, int identitiesPerBatch, int instancesPerIdentity, int seed)
        : this(split?.Images.Select(i => i.Identity).ToArray() ?? throw new ArgumentNullException(nameof(split)),
            identitiesPerBatch, instancesPerIdentity, seed)
    {
    }

    /// <summary>Identities per batch.</summary>
    public int P { get; }

    /// <summary>Images per identity in a batch.</summary>
    public int K { get; }

    /// <summary>Batch size P·K.</summary>
    public int BatchSize => P * K;

    public int Seed { get; }

    public int IdentityCount => _indicesByIdentity.Length;

    /// <summary>The official <c>__len__</c>; the real count per epoch is smaller (the loop stops with &lt; P identities left).</summary>
    public int EstimatedSamplesPerEpoch { get; }

    /// <summary>The generator for an epoch's sampling decisions; a pure function of (seed, epoch).</summary>
    public static Pcg32 EpochGenerator(int seed, int epoch) =>
        new(Pcg32.Mix(((ulong)(uint)seed << 32) | (uint)epoch), 0x5A3D_11E7UL);

    /// <summary>The batches of one epoch (each of <see cref="BatchSize"/> sample indices); deterministic in (seed, epoch).</summary>
    public IReadOnlyList<int[]> EpochBatches(int epoch)
    {
        var rng = EpochGenerator(Seed, epoch);
        var chunks = new Queue<int[]>[_indicesByIdentity.Length];
        for (int id = 0; id < _indicesByIdentity.Length; id++)
        {
            int[] own = _indicesByIdentity[id];
            int[] idxs;
            if (own.Length < K)
            {
                idxs = new int[K];
                for (int i = 0; i < K; i++)
                {
                    idxs[i] = own[rng.NextInt(own.Length)];
                }
            }
            else
            {
                idxs = (int[])own.Clone();
            }

            rng.Shuffle(idxs.AsSpan());
            chunks[id] = new Queue<int[]>(idxs.Length / K);
            for (int start = 0; start + K <= idxs.Length; start += K)
            {
                chunks[id].Enqueue(idxs[start..(start + K)]);
            }
        }

        var available = Enumerable.Range(0, _indicesByIdentity.Length).ToList();
        var batches = new List<int[]>();
        var selected = new int[P];
        while (available.Count >= P)
        {
            // random.sample(avai_pids, P): a partial Fisher–Yates over a copy keeps the draw order.
            var pool = available.ToArray();
            for (int i = 0; i < P; i++)
            {
                int j = i + rng.NextInt(pool.Length - i);
                (pool[i], pool[j]) = (pool[j], pool[i]);
                selected[i] = pool[i];
            }

            var batch = new int[BatchSize];
            for (int i = 0; i < P; i++)
            {
                int id = selected[i];
                chunks[id].Dequeue().CopyTo(batch, i * K);
                if (chunks[id].Count == 0)
                {
                    available.Remove(id);
                }
            }

            batches.Add(batch);
        }

        return batches;
    }
}
