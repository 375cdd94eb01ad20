using System;
using System.IO;
using System.Text;

namespace TransReID.Runtime.IO;

/// <summary>
/// Writes files so that readers see either the old contents or the complete new contents, never a partial file:
/// the data goes to a temporary file in the target's directory, is flushed to disk, and is then renamed over the
/// target (rename(2) on Unix, MoveFileEx with replace on Windows). On any failure the temporary file is deleted and
/// the target is left as it was.
/// </summary>
/// <remarks>
/// The directory entry itself is not fsynced (.NET cannot open a directory for that), so after a power loss the
/// rename may be lost, in which case the old file remains; it is never half-written.
/// </remarks>
public static class AtomicFile
{
    /// <summary>
    /// Creates or replaces <paramref name="path"/> with what <paramref name="write"/> writes to the stream it is given.
    /// The callback may dispose the stream (e.g. through a <see cref="StreamWriter"/>); that does not close the file.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The target's directory does not exist.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string fileName = Path.GetFileName(full);
        if (fileName.Length == 0) throw new ArgumentException($"'{path}' names a directory, not a file.", nameof(path));
        string directory = Path.GetDirectoryName(full)
            ?? throw new ArgumentException($"'{path}' has no parent directory.", nameof(path));
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Cannot write '{full}': directory '{directory}' does not exist.");

        // Hidden (leading dot), unique, and in the same directory so the final rename stays on one file system.
        string temp = Path.Combine(directory, $".{fileName}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                using (var exposed = new NonClosingStream(stream)) write(exposed);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Creates or replaces <paramref name="path"/> with <paramref name="contents"/> as UTF-8 (no BOM), atomically.</summary>
    public static void WriteAllText(string path, string contents)
    {
        ArgumentNullException.ThrowIfNull(contents);
        Write(path, stream => stream.Write(new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(contents)));
    }

    /// <summary>Creates or replaces <paramref name="path"/> with <paramref name="contents"/>, atomically.</summary>
    public static void WriteAllBytes(string path, byte[] contents)
    {
        ArgumentNullException.ThrowIfNull(contents);
        Write(path, stream => stream.Write(contents));
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: the original error is the one worth reporting.
        }
        catch (UnauthorizedAccessException)
        {
            // Same.
        }
    }

    /// <summary>
    /// The stream handed to callbacks: writes go to the temporary file, and Dispose flushes instead of closing, so
    /// that <see cref="Write"/> can still flush to disk and rename afterwards. Use after Dispose throws, as usual.
    /// </summary>
    private sealed class NonClosingStream(FileStream inner) : Stream
    {
        private bool _disposed;

        public override bool CanRead => false;

        public override bool CanSeek => !_disposed && inner.CanSeek;

        public override bool CanWrite => !_disposed;

        public override long Length => Live.Length;

        public override long Position
        {
            get => Live.Position;
            set => Live.Position = value;
        }

        private FileStream Live
        {
            get
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                return inner;
            }
        }

        public override void Flush() => Live.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => Live.Seek(offset, origin);

        public override void SetLength(long value) => Live.SetLength(value);

        public override void Write(byte[] buffer, int offset, int count) => Live.Write(buffer, offset, count);

        public override void Write(ReadOnlySpan<byte> buffer) => Live.Write(buffer);

        public override void WriteByte(byte value) => Live.WriteByte(value);

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_disposed)
            {
                inner.Flush();
                _disposed = true;
            }
            base.Dispose(disposing);
        }
    }
}
