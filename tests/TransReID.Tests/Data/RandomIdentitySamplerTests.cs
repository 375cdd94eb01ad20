using System;
using System.Collections.Generic;
using System.Linq;
using TransReID.Data;

namespace TransReID.Tests.Data;

public sealed class RandomIdentitySamplerTests
{
    // 20 identities with 1..10 images each (some below K), interleaved.
    private static int[] Labels()
    {
        var labels = new List<int>();
        for (int round = 0; round < 10; round++)
        {
            for (int id = 0; id < 20; id++)
            {
                if (round < (id % 10) + 1)
                {
                    labels.Add(id);
                }
            }
        }

        return [.. labels];
    }

    [Fact]
    public void EveryBatch_IsPDistinctIdentities_TimesKConsecutiveImages()
    {
        int[] labels = Labels();
        var sampler = new RandomIdentitySampler(labels, identitiesPerBatch: 4, instancesPerIdentity: 3, seed: 1234);

        var batches = sampler.EpochBatches(1);

        Assert.NotEmpty(batches);
        var used = new Dictionary<int, int>();
        foreach (int[] batch in batches)
        {
            Assert.Equal(12, batch.Length);
            var ids = Enumerable.Range(0, 4).Select(j => labels[batch[j * 3]]).ToArray();
            Assert.Equal(4, ids.Distinct().Count());
            for (int j = 0; j < 4; j++)
            {
                var chunk = batch.Skip(j * 3).Take(3).ToArray();
                Assert.All(chunk, i => Assert.Equal(ids[j], labels[i]));
                int own = labels.Count(l => l == ids[j]);
                if (own >= 3)
                {
                    Assert.Equal(3, chunk.Distinct().Count()); // no replacement when the identity has K images
                }

                used[ids[j]] = used.GetValueOrDefault(ids[j]) + 1;
            }
        }

        // Chunks per identity = max(n, K) / K; the loop stops when fewer than P identities have chunks left.
        int left = 0;
        for (int id = 0; id < 20; id++)
        {
            int n = labels.Count(l => l == id);
            int chunks = Math.Max(n, 3) / 3;
            Assert.InRange(used.GetValueOrDefault(id), 0, chunks);
            left += used.GetValueOrDefault(id) < chunks ? 1 : 0;
        }

        Assert.InRange(left, 0, 3);

        // Images of identities with ≥ K images appear at most once per epoch.
        var all = batches.SelectMany(b => b).Where(i => labels.Count(l => l == labels[i]) >= 3).ToArray();
        Assert.Equal(all.Length, all.Distinct().Count());
    }

    [Fact]
    public void SameSeedAndEpoch_SameBatches_OtherwiseDifferent()
    {
        int[] labels = Labels();
        var a = new RandomIdentitySampler(labels, 4, 3, seed: 7);
        var b = new RandomIdentitySampler(labels, 4, 3, seed: 7);
        var c = new RandomIdentitySampler(labels, 4, 3, seed: 8);

        Assert.Equal(a.EpochBatches(5), b.EpochBatches(5));
        Assert.NotEqual(a.EpochBatches(5), a.EpochBatches(6));
        Assert.NotEqual(a.EpochBatches(5), c.EpochBatches(5));
        Assert.Equal(12, a.BatchSize);
        Assert.Equal(Enumerable.Range(0, 20).Sum(id => Math.Max((id % 10) + 1, 3) / 3 * 3), a.EstimatedSamplesPerEpoch);
    }

    [Fact]
    public void TooFewIdentities_IsAClearError()
    {
        var ex = Assert.Throws<ArgumentException>(() => new RandomIdentitySampler([0, 0, 1, 1], 16, 4, 0));

        Assert.Contains("P = 16", ex.Message, StringComparison.Ordinal);
    }
}
