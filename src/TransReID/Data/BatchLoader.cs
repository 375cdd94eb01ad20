using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace TransReID.Data;

/// <summary>One batch of transformed images.</summary>
/// <param name="Index">Position of the batch in its epoch (or evaluation pass).</param>
/// <param name="Count">Samples in the batch (less than requested when an image had no readable replacement).</param>
/// <param name="Images">(Count, 3, H, W) normalised floats.</param>
/// <param name="Labels">(Count) identities (train: 0..P−1; query/gallery: raw pids).</param>
/// <param name="Cameras">(Count) 0-based cameras.</param>
/// <param name="Views">(Count) 0-based views.</param>
/// <param name="Paths">(Count) the files actually loaded (after any replacement).</param>
public sealed record ReidBatch(int Index, int Count, float[] Images, int[] Labels, int[] Cameras, int[] Views, string[] Paths);

/// <summary>Options of a <see cref="BatchLoader"/>.</summary>
public sealed record BatchLoaderOptions
{
    /// <summary>Decode/augment threads (default: all processors).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Finished batches buffered ahead of the consumer (bounded channel capacity).</summary>
    public int Prefetch { get; init; } = 2;

    /// <summary>Base seed of the per-sample augmentation generators <see cref="Pcg32.ForSample"/>(Seed, Epoch, index).</summary>
    public int Seed { get; init; }

    /// <summary>Epoch number mixed into every sample's seed.</summary>
    public int Epoch { get; init; }

    /// <summary>
    /// Replace an unreadable image by another image of the same identity (training). False: drop it, the batch shrinks
    /// (evaluation, where a stand-in would duplicate another image's feature).
    /// </summary>
    public bool ReplaceUnreadable { get; init; } = true;

    /// <summary>Receives one line per unreadable image (first time each path fails). Null: silent (still counted).</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>
/// Loads batches on worker threads and hands them over through a bounded channel, in batch order. The output is a pure
/// function of (images, batches, transform, seed, epoch): sample <c>i</c> of the pass (counting across batches) is
/// augmented with <see cref="Pcg32.ForSample"/>(seed, epoch, i), whatever thread handles it.
/// </summary>
/// <remarks>
/// An unreadable image never ends the run: it is counted in <see cref="SkippedImages"/>, logged with its path, and
/// (training) replaced by another image of the same identity (candidates tried in a deterministic order starting at a
/// position drawn from the sample's generator); when no image of that identity can be read, or replacement is off
/// (<see cref="BatchLoaderOptions.ReplaceUnreadable"/>, evaluation), the sample is dropped and the batch shrinks.
/// </remarks>
public sealed class BatchLoader
{
    private readonly IReadOnlyList<ReidImage> _images;
    private readonly IReadOnlyList<int[]> _batches;
    private readonly IImageTransform _transform;
    private readonly BatchLoaderOptions _options;
    private readonly Dictionary<int, int[]> _byIdentity;
    private readonly ConcurrentDictionary<string, byte> _badPaths = new(StringComparer.Ordinal);
    private readonly long[] _firstSample; // index of each batch's first sample within the pass
    private int _skipped;

    /// <param name="images">The sample table that batch indices refer to.</param>
    /// <param name="batches">Sample indices of each batch, in output order.</param>
    public BatchLoader(IReadOnlyList<ReidImage> images, IReadOnlyList<int[]> batches, IImageTransform transform,
        BatchLoaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentNullException.ThrowIfNull(transform);
        _options = options ?? new BatchLoaderOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.Threads, 1, "options.Threads");
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.Prefetch, 1, "options.Prefetch");
        _images = images;
        _batches = batches;
        _transform = transform;
        _firstSample = new long[batches.Count];
        long total = 0;
        for (int b = 0; b < batches.Count; b++)
        {
            _firstSample[b] = total;
            foreach (int i in batches[b])
            {
                if ((uint)i >= (uint)images.Count)
                {
                    throw new ArgumentOutOfRangeException(nameof(batches), $"batch {b} refers to sample {i} of {images.Count}");
                }
            }

            total += batches[b].Length;
        }

        _byIdentity = Enumerable.Range(0, images.Count).GroupBy(i => images[i].Identity)
            .ToDictionary(g => g.Key, g => g.ToArray());
    }

    /// <summary>One training epoch: the sampler's batches for <paramref name="epoch"/>, augmented with (seed, epoch, i).</summary>
    public static BatchLoader ForTraining(ReidSplit train, RandomIdentitySampler sampler, int epoch, IImageTransform transform,
        BatchLoaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(sampler);
        return new BatchLoader(train.Images, sampler.EpochBatches(epoch), transform,
            (options ?? new BatchLoaderOptions()) with { Epoch = epoch });
    }

    /// <summary>
    /// All images in order, in batches of <paramref name="batchSize"/> (the last may be smaller). Unreadable images are
    /// dropped, not replaced: use each batch's Labels/Cameras/Paths rather than assuming the input order is complete.
    /// </summary>
    public static BatchLoader ForEvaluation(IReadOnlyList<ReidImage> images, int batchSize, IImageTransform transform,
        BatchLoaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var batches = Enumerable.Range(0, (images.Count + batchSize - 1) / batchSize)
            .Select(b => Enumerable.Range(b * batchSize, Math.Min(batchSize, images.Count - (b * batchSize))).ToArray())
            .ToArray();
        return new BatchLoader(images, batches, transform, (options ?? new BatchLoaderOptions()) with { ReplaceUnreadable = false });
    }

    public int BatchCount => _batches.Count;

    /// <summary>Unreadable image files found so far (each file counted once, however often it was drawn).</summary>
    public int SkippedImages => Volatile.Read(ref _skipped);

    /// <summary>Paths that failed to load so far.</summary>
    public IReadOnlyCollection<string> BadPaths => [.. _badPaths.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Enumerates the batches in order, blocking while the next one is being prepared.</summary>
    public IEnumerable<ReidBatch> ReadAll(int firstBatch = 0, CancellationToken cancellationToken = default)
    {
        var enumerator = ReadAllAsync(firstBatch, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (enumerator.MoveNextAsync().AsTask().GetAwaiter().GetResult())
            {
                yield return enumerator.Current;
            }
        }
        finally
        {
            enumerator.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>Enumerates the batches in order from <paramref name="firstBatch"/> (to resume inside an epoch).</summary>
    public async IAsyncEnumerable<ReidBatch> ReadAllAsync(int firstBatch = 0,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(firstBatch, 0);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var channel = Channel.CreateBounded<ReidBatch>(new BoundedChannelOptions(_options.Prefetch)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var producer = Task.Run(() => ProduceAsync(firstBatch, channel.Writer, stop.Token), CancellationToken.None);
        try
        {
            while (await channel.Reader.WaitToReadAsync(stop.Token).ConfigureAwait(false))
            {
                while (channel.Reader.TryRead(out var batch))
                {
                    yield return batch;
                }
            }

            await producer.ConfigureAwait(false); // surfaces a producer failure with its own exception
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await producer.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // the consumer stopped early; the producer was told to stop
            }
        }
    }

    private async Task ProduceAsync(int firstBatch, ChannelWriter<ReidBatch> writer, CancellationToken ct)
    {
        try
        {
            for (int b = firstBatch; b < _batches.Count; b++)
            {
                var batch = BuildBatch(b, ct);
                await writer.WriteAsync(batch, ct).ConfigureAwait(false);
            }

            writer.TryComplete();
        }
        catch (Exception ex)
        {
            writer.TryComplete(ex);
            throw;
        }
    }

    /// <summary>Loads batch <paramref name="b"/> with the samples spread over the worker threads.</summary>
    public ReidBatch BuildBatch(int b, CancellationToken cancellationToken = default)
    {
        int[] members = _batches[b];
        int n = members.Length;
        int sampleFloats = 3 * _transform.Height * _transform.Width;
        var images = new float[(long)n * sampleFloats];
        var loaded = new int[n]; // the sample index actually loaded, −1 when dropped
        Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = _options.Threads, CancellationToken = cancellationToken },
            s => loaded[s] = LoadSample(members[s], _firstSample[b] + s, images.AsSpan(s * sampleFloats, sampleFloats)));

        int count = loaded.Count(i => i >= 0);
        if (count < n)
        {
            // Compact: keep the surviving samples in their original order.
            int w = 0;
            for (int s = 0; s < n; s++)
            {
                if (loaded[s] < 0)
                {
                    continue;
                }

                if (w != s)
                {
                    images.AsSpan(s * sampleFloats, sampleFloats).CopyTo(images.AsSpan(w * sampleFloats));
                }

                loaded[w++] = loaded[s];
            }

            Array.Resize(ref images, count * sampleFloats);
        }

        var labels = new int[count];
        var cameras = new int[count];
        var views = new int[count];
        var paths = new string[count];
        for (int s = 0; s < count; s++)
        {
            var image = _images[loaded[s]];
            labels[s] = image.Identity;
            cameras[s] = image.Camera;
            views[s] = image.View;
            paths[s] = image.Path;
        }

        return new ReidBatch(b, count, images, labels, cameras, views, paths);
    }

    /// <summary>Loads one sample (or a same-identity replacement); returns the index loaded, or −1.</summary>
    private int LoadSample(int index, long sampleNumber, Span<float> destination)
    {
        var rng = Pcg32.ForSample(_options.Seed, _options.Epoch, sampleNumber);
        if (TryLoad(index, rng, destination))
        {
            return index;
        }

        if (!_options.ReplaceUnreadable)
        {
            return -1;
        }

        int[] candidates = _byIdentity[_images[index].Identity];
        var pick = rng; // a copy: the replacement is augmented from the sample's own seed, like the original would be
        int start = pick.NextInt(candidates.Length);
        for (int k = 0; k < candidates.Length; k++)
        {
            int candidate = candidates[(start + k) % candidates.Length];
            if (candidate == index || string.Equals(_images[candidate].Path, _images[index].Path, StringComparison.Ordinal))
            {
                continue;
            }

            if (TryLoad(candidate, rng, destination))
            {
                return candidate;
            }
        }

        return -1;
    }

    private bool TryLoad(int index, Pcg32 rng, Span<float> destination)
    {
        string path = _images[index].Path;
        if (_badPaths.ContainsKey(path))
        {
            return false;
        }

        try
        {
            _transform.Apply(path, ref rng, destination);
            return true;
        }
        catch (ImageLoadException ex)
        {
            if (_badPaths.TryAdd(path, 0))
            {
                Interlocked.Increment(ref _skipped);
                _options.Log?.Invoke($"skipping unreadable image (identity {_images[index].Identity}): {ex.Message}");
            }

            return false;
        }
    }
}
