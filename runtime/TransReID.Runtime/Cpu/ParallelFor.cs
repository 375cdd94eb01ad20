using System;
using System.Collections.Generic;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// A tiny static partitioner for the CPU backend's row loops: [0, count) is cut into a deterministic number of equal
/// chunks (a function of count, grain and the thread count only, so per-chunk partial sums reduce the same way on
/// every run); the calling thread works through them together with up to <see cref="Threads"/> − 1 helpers of
/// <see cref="CpuWorkers"/>. No allocation per call: the loop body is a static function pointer taking a pointer to an argument
/// struct on the caller's stack, and job objects are pooled.
/// </summary>
internal sealed unsafe class CpuParallel
{
    /// <summary>Chunks per thread: a little over-decomposition so one slow thread does not hold up the rest.</summary>
    private const int ChunksPerThread = 4;

    private readonly Stack<Job> _pool = new();

    public CpuParallel(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "The CPU backend needs at least one thread.");
        Threads = threads;
    }

    /// <summary>Threads that work on one loop (the caller included).</summary>
    public int Threads { get; }

    /// <summary>
    /// Helpers from the .NET thread pool instead of <see cref="CpuWorkers"/> (the earlier design; kept so the two can be
    /// compared in one process: <c>TransReID.Benchmarks profile --compare-workers</c>).
    /// </summary>
    internal static bool UseThreadPool { get; set; }

    /// <summary>Whether GEMMs may use their own threads.</summary>
    public bool GemmParallel => Threads > 1;

    /// <summary>
    /// Number of chunks <see cref="For"/> cuts [0, <paramref name="count"/>) into for this <paramref name="grain"/>
    /// (the smallest amount of work worth a chunk): at least 1, at most <see cref="Threads"/>·4.
    /// </summary>
    public int Chunks(long count, long grain)
    {
        if (count <= 0) return 0;
        if (Threads == 1) return 1;
        long byGrain = (count + Math.Max(grain, 1) - 1) / Math.Max(grain, 1);
        return (int)Math.Clamp(byGrain, 1, (long)Threads * ChunksPerThread);
    }

    /// <summary>
    /// Runs body(args, chunk, start, end) over the chunks of [0, <paramref name="count"/>) (see <see cref="Chunks"/>);
    /// returns when all have finished. An exception thrown by a chunk is rethrown here.
    /// </summary>
    public void For(long count, long grain, delegate*<void*, int, long, long, void> body, void* args)
    {
        int chunks = Chunks(count, grain);
        if (chunks == 0) return;
        if (chunks == 1)
        {
            body(args, 0, 0, count);
            return;
        }
        int helpers = Math.Min(Threads, chunks) - 1;
        Job job = Rent();
        job.Body = body;
        job.Args = args;
        job.Count = count;
        job.ChunkCount = chunks;
        job.Error = null;
        job.Pending = chunks;
        job.Refs = helpers + 1;
        Volatile.Write(ref job.Next, 0);
        if (UseThreadPool) for (int i = 0; i < helpers; i++) ThreadPool.UnsafeQueueUserWorkItem(job, preferLocal: false);
        else CpuWorkers.Enqueue(job, helpers);
        job.RunChunks();
        // Every chunk is claimed by now; the ones still pending are running on helpers, so this wait is short.
        var spin = new SpinWait();
        while (Volatile.Read(ref job.Pending) != 0) spin.SpinOnce(sleep1Threshold: -1);
        Exception? error = job.Error;
        job.Release();
        if (error is not null) ExceptionDispatchInfo.Throw(error);
    }

    private Job Rent()
    {
        lock (_pool)
        {
            if (_pool.Count > 0) return _pool.Pop();
        }
        return new Job(this);
    }

    private void Return(Job job)
    {
        job.Args = null;
        job.Body = null;
        lock (_pool) _pool.Push(job);
    }

    /// <summary>
    /// One loop in flight. Returned to the pool only when the caller and every queued helper have let go of it, so a
    /// helper that starts late (after the loop finished) sees no chunk left and never touches the stale arguments.
    /// </summary>
    private sealed class Job(CpuParallel owner) : IThreadPoolWorkItem
    {
        public delegate*<void*, int, long, long, void> Body;
        public void* Args;
        public long Count;
        public int ChunkCount;
        public int Next;
        public int Pending;
        public int Refs;
        public Exception? Error;

        public void Execute()
        {
            RunChunks();
            Release();
        }

        public void RunChunks()
        {
            while (true)
            {
                int c = Interlocked.Increment(ref Next) - 1;
                if (c >= ChunkCount) return;
                long start = Count * c / ChunkCount, end = Count * (c + 1) / ChunkCount;
                try
                {
                    Body(Args, c, start, end);
                }
#pragma warning disable CA1031 // any failure of a chunk is handed to the calling thread, which rethrows it
                catch (Exception e)
#pragma warning restore CA1031
                {
                    Interlocked.CompareExchange(ref Error, e, null);
                }
                Interlocked.Decrement(ref Pending);
            }
        }

        public void Release()
        {
            if (Interlocked.Decrement(ref Refs) == 0) owner.Return(this);
        }
    }
}
