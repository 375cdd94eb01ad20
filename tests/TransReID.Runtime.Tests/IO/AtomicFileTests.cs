using System;
using System.IO;
using System.Text;
using TransReID.Runtime.IO;

namespace TransReID.Runtime.Tests.IO;

public sealed class AtomicFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Write_creates_the_file_and_leaves_no_temp_file()
    {
        string path = _dir.File("a.bin");
        AtomicFile.Write(path, s => s.Write([1, 2, 3]));

        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path));
        Assert.Equal(["a.bin"], _dir.List());
    }

    [Fact]
    public void Write_replaces_an_existing_file()
    {
        string path = _dir.File("a.bin");
        File.WriteAllBytes(path, new byte[1000]);
        AtomicFile.Write(path, s => s.Write([7, 8]));

        Assert.Equal(new byte[] { 7, 8 }, File.ReadAllBytes(path));
        Assert.Equal(["a.bin"], _dir.List());
    }

    [Fact]
    public void Throwing_callback_keeps_the_old_file_and_removes_the_temp_file()
    {
        string path = _dir.File("model.safetensors");
        File.WriteAllText(path, "old contents");
        var boom = new InvalidOperationException("disk on fire");

        var thrown = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[4096]); // half a file is already written when the failure happens
            throw boom;
        }));

        Assert.Same(boom, thrown);
        Assert.Equal("old contents", File.ReadAllText(path));
        Assert.Equal(["model.safetensors"], _dir.List());
    }

    [Fact]
    public void Throwing_callback_without_a_target_creates_nothing()
    {
        string path = _dir.File("new.bin");
        Assert.Throws<IOException>(() => AtomicFile.Write(path, s =>
        {
            s.WriteByte(1);
            throw new IOException("simulated");
        }));

        Assert.Empty(_dir.List());
    }

    [Fact]
    public void Missing_directory_throws_naming_it_and_creates_nothing()
    {
        string missing = Path.Combine(_dir.Path, "no-such-dir");
        string path = Path.Combine(missing, "x.bin");
        bool called = false;

        var e = Assert.Throws<DirectoryNotFoundException>(() => AtomicFile.Write(path, _ => called = true));

        Assert.Contains("no-such-dir", e.Message, StringComparison.Ordinal);
        Assert.False(called);
        Assert.Empty(_dir.List());
    }

    [Fact]
    public void Target_that_is_a_directory_fails_and_removes_the_temp_file()
    {
        string path = _dir.File("sub");
        Directory.CreateDirectory(path);

        Assert.ThrowsAny<Exception>(() => AtomicFile.Write(path, s => s.WriteByte(1)));

        Assert.Equal(["sub"], _dir.List());
        Assert.True(Directory.Exists(path));
    }

    [Fact]
    public void Callback_may_dispose_the_stream_through_a_StreamWriter()
    {
        string path = _dir.File("log.txt");
        AtomicFile.Write(path, s =>
        {
            using var writer = new StreamWriter(s, new UTF8Encoding(false));
            writer.Write("hello ");
            writer.Write("world");
        });

        Assert.Equal("hello world", File.ReadAllText(path));
        Assert.Equal(["log.txt"], _dir.List());
    }

    [Fact]
    public void Stream_is_unusable_after_the_callback_disposed_it()
    {
        string path = _dir.File("x.bin");
        Assert.Throws<ObjectDisposedException>(() => AtomicFile.Write(path, s =>
        {
            s.Dispose();
            s.WriteByte(1);
        }));
        Assert.Empty(_dir.List());
    }

    [Fact]
    public void WriteAllText_and_WriteAllBytes_round_trip()
    {
        string text = _dir.File("t.json"), bytes = _dir.File("b.bin");
        AtomicFile.WriteAllText(text, "{\"µ\": 1}");
        AtomicFile.WriteAllBytes(bytes, [0, 255, 128]);

        Assert.Equal(Encoding.UTF8.GetBytes("{\"µ\": 1}"), File.ReadAllBytes(text)); // no BOM
        Assert.Equal(new byte[] { 0, 255, 128 }, File.ReadAllBytes(bytes));
        Assert.Equal(["b.bin", "t.json"], _dir.List());
    }

    [Fact]
    public void Relative_path_is_resolved_against_the_current_directory()
    {
        string relative = Path.GetRelativePath(Environment.CurrentDirectory, _dir.File("rel.bin"));
        AtomicFile.Write(relative, s => s.WriteByte(42));
        Assert.Equal(new byte[] { 42 }, File.ReadAllBytes(_dir.File("rel.bin")));
    }
}
