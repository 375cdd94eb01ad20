using System.Diagnostics;

namespace TransReID.Tests.Cli;

/// <summary>Runs a child process to completion and captures its exit code, stdout and stderr (read concurrently).</summary>
internal static class ChildProcess
{
    public static (int Code, string Out, string Err) Run(ProcessStartInfo start)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr);
    }
}
