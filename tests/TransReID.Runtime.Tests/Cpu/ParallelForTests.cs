using System;
using System.Threading;
using TransReID.Runtime.Cpu;

namespace TransReID.Runtime.Tests.Cpu;

/// <summary>The static partitioner: every index exactly once, deterministic chunking, exceptions surface on the caller.</summary>
public unsafe class ParallelForTests
{
    private struct CountArgs
    {
        public int* Hits;
        public int* ChunkOf;
    }

    private static void Count(void* p, int chunk, long start, long end)
    {
        ref CountArgs a = ref *(CountArgs*)p;
        for (long i = start; i < end; i++)
        {
            Interlocked.Increment(ref a.Hits[i]);
            a.ChunkOf[i] = chunk;
        }
    }

    private static void Throw(void* p, int chunk, long start, long end)
    {
        if (chunk == 3) throw new InvalidOperationException("chunk 3 failed");
    }

    [Theory]
    [InlineData(1, 10_000, 1)]
    [InlineData(2, 10_000, 1)]
    [InlineData(2, 10_000, 5_000)]
    [InlineData(3, 7, 1)]
    [InlineData(2, 0, 1)]
    public void For_visits_every_index_once_in_contiguous_chunks(int threads, int count, int grain)
    {
        var par = new CpuParallel(threads);
        var hits = new int[Math.Max(count, 1)];
        var chunkOf = new int[Math.Max(count, 1)];
        for (int rep = 0; rep < 20; rep++)
        {
            Array.Clear(hits);
            fixed (int* h = hits)
            fixed (int* c = chunkOf)
            {
                var a = new CountArgs { Hits = h, ChunkOf = c };
                par.For(count, grain, &Count, &a);
            }
            int missed = Array.FindIndex(hits, 0, count, h => h != 1);
            Assert.True(missed < 0, $"index {missed} visited {(missed < 0 ? 1 : hits[missed])} times");
            int chunks = par.Chunks(count, grain);
            Assert.Equal(count == 0 ? 0 : Math.Min(threads == 1 ? 1 : threads * 4, (count + grain - 1) / grain), chunks);
            bool contiguous = true;
            for (int i = 1; i < count; i++) contiguous &= chunkOf[i] == chunkOf[i - 1] || chunkOf[i] == chunkOf[i - 1] + 1;
            Assert.True(contiguous, "chunks are contiguous, increasing ranges");
            if (count > 0) Assert.Equal(chunks - 1, chunkOf[count - 1]);
        }
    }

    [Fact]
    public void For_rethrows_a_chunk_exception_on_the_caller()
    {
        var par = new CpuParallel(2);
        var e = Assert.Throws<InvalidOperationException>(() => par.For(100, 1, &Throw, null));
        Assert.Equal("chunk 3 failed", e.Message);
        // the partitioner is still usable afterwards
        var hits = new int[100];
        var chunkOf = new int[100];
        fixed (int* h = hits)
        fixed (int* c = chunkOf)
        {
            var a = new CountArgs { Hits = h, ChunkOf = c };
            par.For(100, 1, &Count, &a);
        }
        Assert.All(hits, v => Assert.Equal(1, v));
    }
}
