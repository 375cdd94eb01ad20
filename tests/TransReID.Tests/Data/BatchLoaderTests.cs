using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using SixLabors.ImageSharp.PixelFormats;
using TransReID.Data;

namespace TransReID.Tests.Data;

public sealed class BatchLoaderTests : IDisposable
{
    private const int Ids = 6, PerId = 4;
    private readonly TempDirectory _dir = new();
    private readonly ReidSplit _train;
    private readonly TrainTransform _transform = new(16, 8);

    public BatchLoaderTests()
    {
        var images = new List<ReidImage>();
        for (int id = 0; id < Ids; id++)
        {
            for (int k = 0; k < PerId; k++)
            {
                int seed = (id * 31) + k;
                string path = _dir.WriteImage($"img/{id:D2}_{k}.png", 6, 12,
                    (x, y) => new Rgb24((byte)(id * 40), (byte)((x * 20) + seed), (byte)((y * 10) + k)));
                images.Add(new ReidImage(path, id, k % 3, 0));
            }
        }

        _train = new ReidSplit(images);
    }

    public void Dispose() => _dir.Dispose();

    private List<ReidBatch> Run(BatchLoader loader, int firstBatch = 0) =>
        [.. loader.ReadAll(firstBatch, TestContext.Current.CancellationToken)];

    [Fact]
    public void Output_IsTheSame_ForAnyThreadCountAndPrefetch_AndMatchesPerSampleSeeds()
    {
        var sampler = new RandomIdentitySampler(_train, 2, 2, seed: 99);
        var one = Run(BatchLoader.ForTraining(_train, sampler, 3, _transform, new BatchLoaderOptions { Threads = 1, Prefetch = 1, Seed = 5 }));
        var four = Run(BatchLoader.ForTraining(_train, sampler, 3, _transform, new BatchLoaderOptions { Threads = 4, Prefetch = 3, Seed = 5 }));

        Assert.Equal(sampler.EpochBatches(3).Count, one.Count);
        Assert.Equal(one.Count, four.Count);
        for (int b = 0; b < one.Count; b++)
        {
            Assert.Equal(b, four[b].Index);
            Assert.Equal(one[b].Images, four[b].Images);
            Assert.Equal(one[b].Labels, four[b].Labels);
            Assert.Equal(one[b].Cameras, four[b].Cameras);
            Assert.Equal(one[b].Paths, four[b].Paths);
        }

        // Sample i of the epoch is the transform applied with Pcg32.ForSample(seed, epoch, i).
        int[] members = sampler.EpochBatches(3)[1];
        var expected = new float[3 * 16 * 8];
        var rng = Pcg32.ForSample(5, 3, members.Length + 2);
        _transform.Apply(_train.Images[members[2]].Path, ref rng, expected);
        Assert.Equal(expected, one[1].Images.AsSpan(2 * expected.Length, expected.Length).ToArray());
        Assert.Equal(members.Select(i => _train.Images[i].Identity), one[1].Labels);

        var other = Run(BatchLoader.ForTraining(_train, sampler, 3, _transform, new BatchLoaderOptions { Seed = 6 }));
        Assert.NotEqual(one[0].Images, other[0].Images);
    }

    [Fact]
    public void Resume_FromABatch_GivesTheSameRemainingBatches()
    {
        var sampler = new RandomIdentitySampler(_train, 2, 2, seed: 1);
        var loader = BatchLoader.ForTraining(_train, sampler, 0, _transform, new BatchLoaderOptions { Threads = 2 });

        var all = Run(loader);
        var tail = Run(loader, firstBatch: 2);

        Assert.Equal(all.Count - 2, tail.Count);
        Assert.Equal(all[2].Images, tail[0].Images);
        Assert.Equal(all[^1].Paths, tail[^1].Paths);
    }

    [Fact]
    public void CorruptImage_IsReplacedBySameIdentity_CountedAndLogged()
    {
        string bad = _train.Images[5].Path; // identity 1
        File.WriteAllText(bad, "garbage");
        var log = new ConcurrentBag<string>();
        var sampler = new RandomIdentitySampler(_train, 2, 2, seed: 3);
        var batches = sampler.EpochBatches(0);
        int occurrences = batches.Sum(b => b.Count(i => i == 5));
        var loader = BatchLoader.ForTraining(_train, sampler, 0, _transform,
            new BatchLoaderOptions { Threads = 2, Log = log.Add });

        var output = Run(loader);

        Assert.Equal(1, loader.SkippedImages); // one file, however often it was drawn (and its replacements tried)
        Assert.All(output, b => Assert.DoesNotContain(bad, b.Paths));
        for (int b = 0; b < output.Count; b++)
        {
            Assert.Equal(batches[b].Length, output[b].Count);
            Assert.Equal(batches[b].Select(i => _train.Images[i].Identity), output[b].Labels);
        }

        Assert.True(occurrences > 0, "the sampler should draw the corrupt image in this epoch");
        Assert.Contains(log, line => line.Contains(bad, StringComparison.Ordinal));
        Assert.Equal([bad], loader.BadPaths);
    }

    [Fact]
    public void IdentityWithNoReadableImage_ShrinksTheBatch()
    {
        foreach (var image in _train.Images.Where(i => i.Identity == 2))
        {
            File.WriteAllBytes(image.Path, [0xFF, 0xD8, 0xFF]);
        }

        var sampler = new RandomIdentitySampler(_train, 3, 2, seed: 4);
        var batches = sampler.EpochBatches(0);
        var output = Run(BatchLoader.ForTraining(_train, sampler, 0, _transform, new BatchLoaderOptions { Threads = 3 }));

        Assert.Equal(batches.Count, output.Count);
        for (int b = 0; b < output.Count; b++)
        {
            int expected = batches[b].Count(i => _train.Images[i].Identity != 2);
            Assert.Equal(expected, output[b].Count);
            Assert.Equal(expected * 3 * 16 * 8, output[b].Images.Length);
            Assert.Equal(expected, output[b].Labels.Length);
            Assert.DoesNotContain(2, output[b].Labels);
        }
    }

    [Fact]
    public void Evaluation_KeepsInputOrder_LastBatchSmaller_DropsUnreadable()
    {
        var test = new TestTransform(16, 8);
        var images = _train.Images.Take(12).ToArray();
        File.WriteAllText(images[6].Path, "bad");

        var loader = BatchLoader.ForEvaluation(images, 5, test, new BatchLoaderOptions { Threads = 2 });
        var output = Run(loader);

        Assert.Equal([5, 4, 2], output.Select(b => b.Count));
        Assert.Equal(images.Where((_, i) => i != 6).Select(i => i.Path), output.SelectMany(b => b.Paths));
        Assert.Equal(1, loader.SkippedImages);
        var expected = new float[3 * 16 * 8];
        ImageLoader.LoadNormalized(images[7].Path, 16, 8, expected);
        Assert.Equal(expected, output[1].Images.AsSpan(expected.Length, expected.Length).ToArray());
    }

    [Fact]
    public void StoppingEarly_EndsTheProducer()
    {
        var sampler = new RandomIdentitySampler(_train, 2, 2, seed: 1);
        var loader = BatchLoader.ForTraining(_train, sampler, 0, _transform, new BatchLoaderOptions { Prefetch = 1 });

        var first = loader.ReadAll(0, TestContext.Current.CancellationToken).First();

        Assert.Equal(0, first.Index);
        Assert.Equal(4, first.Count);
    }
}
