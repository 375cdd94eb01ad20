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

    private static void RecordThread(void* p, int chunk, long start, long end)
    {
        ref CountArgs a = ref *(CountArgs*)p;
        // long enough (≈ 1 ms) that a helper which is awake has time to claim a chunk before the caller claims them all
        Thread.SpinWait(200_000);
        for (long i = start; i < end; i++)
        {
            Interlocked.Increment(ref a.Hits[i]);
            a.ChunkOf[i] = Environment.CurrentManagedThreadId;
        }
    }

    [Fact]
    public void Loops_from_several_threads_at_once_all_complete_and_helpers_wake_after_sleeping()
    {
        // four callers share the one team of helper threads, each loop visiting every index once
        const int N = 4_000;
        var errors = 0;
        var callers = new Thread[4];
        for (int t = 0; t < callers.Length; t++)
        {
            callers[t] = new Thread(() =>
            {
                var par = new CpuParallel(3);
                var hits = new int[N];
                var chunkOf = new int[N];
                for (int rep = 0; rep < 50; rep++)
                {
                    Array.Clear(hits);
                    fixed (int* h = hits)
                    fixed (int* c = chunkOf)
                    {
                        var a = new CountArgs { Hits = h, ChunkOf = c };
                        par.For(N, 1, &Count, &a);
                    }
                    if (Array.Exists(hits, v => v != 1)) Interlocked.Increment(ref errors);
                }
            });
            callers[t].Start();
        }
        foreach (var t in callers) Assert.True(t.Join(TimeSpan.FromSeconds(60)), "a loop did not finish");
        Assert.Equal(0, errors);

        // after the helpers have blocked (well past their spin time), a loop still gets one: some chunk runs elsewhere
        var parallel = new CpuParallel(2);
        var ran = new int[8];
        var thread = new int[8];
        bool helped = false;
        int attempts = 0;
        for (; attempts < 20 && !helped; attempts++)
        {
            Thread.Sleep(CpuWorkers.SpinTime * 20);
            fixed (int* h = ran)
            fixed (int* c = thread)
            {
                var a = new CountArgs { Hits = h, ChunkOf = c };
                parallel.For(8, 1, &RecordThread, &a);
            }
            helped = Array.Exists(thread, id => id != Environment.CurrentManagedThreadId);
        }
        Assert.True(helped, "no chunk ever ran on a helper after the helpers had gone to sleep");
        Assert.All(ran, v => Assert.Equal(attempts, v));
    }
}
