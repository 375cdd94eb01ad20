using System;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using TransReID.Data;
using TransReID.Runtime.Interop;
using TransReID.Runtime.IO;
using TransReID.Runtime.Model;
using TransReID.Training;

namespace TransReID.Cli;

/// <summary>
/// The CLI's one error policy. A user-caused failure (<see cref="IsUserError"/>: a closed set of project exception
/// types whose messages name the file, key or option) prints one <c>error:</c> line and exits with
/// <see cref="UserErrorExitCode"/>. Anything else is a bug: one <c>internal error:</c> line that asks for a report,
/// the stack trace in a crash log, exit <see cref="BugExitCode"/> (sysexits' EX_SOFTWARE). Code that throws a .NET
/// exception such as <see cref="ArgumentException"/> for a user's mistake converts it to <see cref="CliException"/>
/// where the CLI calls it (<see cref="UserInput"/>).
/// </summary>
internal static class ErrorPolicy
{
    /// <summary>Success.</summary>
    public const int SuccessExitCode = 0;

    /// <summary>The user can fix it: bad options, data, weights, checkpoints, files, or a CUDA device that fails.</summary>
    public const int UserErrorExitCode = 2;

    /// <summary>A bug in transreid (sysexits.h EX_SOFTWARE).</summary>
    public const int BugExitCode = 70;

    /// <summary>Environment variable naming the folder for crash logs (default: the OS temp folder).</summary>
    public const string CrashDirectoryVariable = "TRANSREID_CRASH_DIR";

    /// <summary>
    /// True for the failures a user causes and can fix. <see cref="InvalidDataException"/> is thrown by the dataset
    /// readers, the training log and the checkpoint files, always naming the file; I/O errors concern files the user
    /// named (the dataset, weights, outputs).
    /// </summary>
    public static bool IsUserError(Exception e) => e is CliException
        or ImageLoadException
        or SafetensorsException
        or PthException
        or CudaException // NVRTC and cuBLAS included; CUDA_ERROR_OUT_OF_MEMORY names the allocation
        or InvalidDataException
        or CheckpointException
        or TrainingDivergedException
        or NonFiniteLossException
        or OutOfMemoryException
        or IOException
        or UnauthorizedAccessException;

    /// <summary>Runs a command body under the policy.</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (IsUserError(e))
        {
            return ReportUserError(e);
        }
        catch (Exception e)
        {
            return ReportBug(e);
        }
    }

    /// <summary>Prints <c>error: message</c> (one line per message line) on stderr; returns 2.</summary>
    public static int ReportUserError(Exception e)
    {
        Console.Out.Flush();
        string message = e is OutOfMemoryException
            ? "out of memory: the process could not allocate what this command needs (lower --batch or the other sizes given)"
            : e.Message;
        Console.Error.WriteLine("error: " + message);
        return UserErrorExitCode;
    }

    /// <summary>Writes the crash log and prints one <c>internal error:</c> line on stderr; returns 70.</summary>
    public static int ReportBug(Exception e)
    {
        Console.Out.Flush();
        string line = $"internal error: {e.GetType().FullName}: {FirstLine(e.Message)}";
        string? log = TryWriteCrashLog(e);
        if (log is not null)
        {
            Console.Error.WriteLine($"{line} — this is a bug in transreid; please report it with {log}");
        }
        else
        {
            Console.Error.WriteLine($"{line} — this is a bug in transreid; please report it with this stack trace:");
            Console.Error.WriteLine(e.ToString());
        }

        return BugExitCode;
    }

    private static string FirstLine(string message)
    {
        int newline = message.IndexOfAny(['\r', '\n']);
        return newline < 0 ? message : message[..newline];
    }

    /// <summary>transreid-crash-yyyyMMdd-HHmmss-fff-PID.log in <see cref="CrashDirectoryVariable"/> or the temp folder; null when it cannot be written.</summary>
    private static string? TryWriteCrashLog(Exception e)
    {
        try
        {
            string dir = Environment.GetEnvironmentVariable(CrashDirectoryVariable) is { Length: > 0 } d ? d : Path.GetTempPath();
            Directory.CreateDirectory(dir);
            var now = DateTime.UtcNow;
            string path = Path.Combine(dir, string.Create(CultureInfo.InvariantCulture,
                $"transreid-crash-{now:yyyyMMdd-HHmmss-fff}-{Environment.ProcessId}.log"));
            var text = new StringBuilder()
                .AppendLine(CultureInfo.InvariantCulture, $"transreid internal error at {now:yyyy-MM-ddTHH:mm:ss.fffZ}")
                .AppendLine(CultureInfo.InvariantCulture, $"version: {typeof(ErrorPolicy).Assembly.GetName().Version}")
                .AppendLine(CultureInfo.InvariantCulture, $"command line: {Environment.CommandLine}")
                .AppendLine(CultureInfo.InvariantCulture, $"runtime: {RuntimeInformation.FrameworkDescription} on {RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture})")
                .AppendLine()
                .AppendLine(e.ToString())
                .ToString();
            File.WriteAllText(path, text);
            return path;
        }
        catch (Exception io) when (io is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
