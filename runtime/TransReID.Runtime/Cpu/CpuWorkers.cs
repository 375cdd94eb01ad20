using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// The helper threads of <see cref="CpuParallel"/>: dedicated background threads, one process-wide team shared by every
/// CPU backend, that take loop jobs from one queue. After a job a helper keeps polling the queue for
/// <see cref="SpinTime"/> before it blocks, because a model's ops follow each other within microseconds: the .NET
/// thread pool's workers block almost at once, and in a VM waking a blocked thread takes tens of microseconds, often
/// longer than a small op (measured in docs/benchmarks.md: with thread-pool helpers one loop in ten ran at half speed
/// because its helper arrived after the caller had done all the chunks). Helpers beyond the machine's cores − 1 never
/// spin, so an oversized thread count does not burn the cores it shares. A job is always finished by its caller if no
/// helper comes (helpers only take chunks nobody has claimed), so the team can never deadlock a loop.
/// </summary>
internal static class CpuWorkers
{
    /// <summary>How long an idle helper polls for the next job before it blocks.</summary>
    internal static readonly TimeSpan SpinTime = TimeSpan.FromMicroseconds(300);

    private static readonly ConcurrentQueue<IThreadPoolWorkItem> s_queue = new();
    private static readonly SemaphoreSlim s_wake = new(0);
    private static readonly object s_grow = new();
    private static int s_workers, s_sleeping;

    /// <summary>Helper threads started so far.</summary>
    internal static int Workers => Volatile.Read(ref s_workers);

    /// <summary>Hands <paramref name="job"/> to <paramref name="helpers"/> helpers (each runs it once).</summary>
    public static void Enqueue(IThreadPoolWorkItem job, int helpers)
    {
        if (Volatile.Read(ref s_workers) < helpers) Grow(helpers);
        for (int i = 0; i < helpers; i++) s_queue.Enqueue(job);
        // Enqueue is a full fence (an interlocked exchange); a helper counts itself sleeping before its last look at
        // the queue, so either it sees the job or this sees it sleeping and wakes it.
        int sleeping = Volatile.Read(ref s_sleeping);
        if (sleeping > 0) s_wake.Release(Math.Min(sleeping, helpers));
    }

    private static void Grow(int helpers)
    {
        lock (s_grow)
        {
            for (int i = s_workers; i < helpers; i++)
            {
                bool spins = i < Math.Max(1, Environment.ProcessorCount - 1);
                var thread = new Thread(() => Run(spins)) { IsBackground = true, Name = $"TransReID CPU worker {i + 1}" };
                thread.Start();
                Volatile.Write(ref s_workers, i + 1);
            }
        }
    }

    private static void Run(bool spins)
    {
        long spinTicks = (long)(SpinTime.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            if (s_queue.TryDequeue(out var job))
            {
                job.Execute();
                continue;
            }
            if (spins)
            {
                long until = Stopwatch.GetTimestamp() + spinTicks;
                while (s_queue.IsEmpty && Stopwatch.GetTimestamp() < until) Thread.SpinWait(8);
                if (!s_queue.IsEmpty) continue;
            }
            Interlocked.Increment(ref s_sleeping);
            if (s_queue.IsEmpty) s_wake.Wait();
            Interlocked.Decrement(ref s_sleeping);
        }
    }
}
