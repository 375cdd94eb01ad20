using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using TransReID.Runtime.Cuda;

namespace TransReID.Cuda.Tests;

/// <summary>The on-disk kernel cache: hits, keys, and corrupt entries that are recompiled rather than trusted.</summary>
public sealed class KernelCacheTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "transreid-kernel-cache-test-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Second_compile_is_a_cache_hit_with_identical_bytes()
    {
        TestEnvironment.RequireNvrtc();
        var compiler = new KernelCompiler(_dir);
        var options = KernelCompiler.Options("sm_90", []);
        KernelImage first = compiler.Compile("gelu.cu", "sm_90", true, options);
        KernelImage second = compiler.Compile("gelu.cu", "sm_90", true, options);
        Assert.False(first.FromCache);
        Assert.True(second.FromCache);
        Assert.Equal(1, compiler.CompileCount);
        Assert.Equal(first.Data, second.Data);
        Assert.Equal(first.CacheKey, second.CacheKey);
        Assert.Single(Directory.GetFiles(_dir));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
        // a second compiler (another process, later) also hits
        Assert.True(new KernelCompiler(_dir).Compile("gelu.cu", "sm_90", true, options).FromCache);
    }

    [Theory]
    [InlineData("flip")]
    [InlineData("truncate")]
    [InlineData("empty")]
    [InlineData("garbage")]
    public void Corrupt_entry_is_recompiled_and_rewritten(string damage)
    {
        TestEnvironment.RequireNvrtc();
        var compiler = new KernelCompiler(_dir);
        var options = KernelCompiler.Options("sm_90", []);
        KernelImage good = compiler.Compile("optimizer.cu", "sm_90", true, options);
        string path = compiler.CachePath("optimizer.cu", good.CacheKey, cubin: true)!;
        byte[] bytes = File.ReadAllBytes(path);
        switch (damage)
        {
            case "flip": bytes[^10] ^= 0x5A; break;
            case "truncate": bytes = bytes[..(bytes.Length / 2)]; break;
            case "empty": bytes = []; break;
            default: bytes = [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 37))]; break;
        }

        File.WriteAllBytes(path, bytes);
        KernelImage again = compiler.Compile("optimizer.cu", "sm_90", true, options);
        Assert.False(again.FromCache);
        Assert.Equal(2, compiler.CompileCount);
        Assert.Equal(good.Data, again.Data);
        Assert.True(compiler.Compile("optimizer.cu", "sm_90", true, options).FromCache); // rewritten valid
    }

    /// <summary>The 15 constants the generated code passes to IKernelSpecializer.Specialize, for one model.</summary>
    private static KeyValuePair<string, long>[] ModelConstants(long classes, long dim = 768) =>
    [
        new("TOKENS", 211), new("PATCHES", 210), new("DIM", dim), new("HEADS", 12), new("HEAD_DIM", dim / 12), new("MLP_HIDDEN", 4 * dim),
        new("PARTS", 4), new("PART_TOKENS", 53), new("CLASSES", classes), new("FEATURE_DIM", 5 * dim), new("GRID_Y", 21), new("GRID_X", 10),
        new("PATCH", 16), new("STRIDE_Y", 12), new("STRIDE_X", 12),
    ];

    private static string KeyOf(string file, IReadOnlyList<KeyValuePair<string, long>> constants) =>
        KernelCompiler.CacheKey(file, KernelSources.Read(file), KernelSources.Headers, KernelCompiler.OptionsFor(file, "sm_90", constants), 13, 0, "sm_90", true);

    [Fact]
    public void Each_kernel_file_gets_only_the_constants_it_uses()
    {
        string[] used = [.. ModelConstants(751).Select(c => c.Key).Where(k => KernelSources.KernelFiles.Any(f => KernelSources.Uses(f, k)))];
        Assert.Equal(["TOKENS", "DIM"], used);
        Assert.Equal(["-DDIM=768"], KernelCompiler.OptionsFor("layernorm.cu", "sm_90", ModelConstants(751)).Where(o => o.StartsWith("-D", StringComparison.Ordinal)));
        Assert.Equal(["-DTOKENS=211"], KernelCompiler.OptionsFor("attention.cu", "sm_90", ModelConstants(751)).Where(o => o.StartsWith("-D", StringComparison.Ordinal)));
        Assert.DoesNotContain(KernelCompiler.OptionsFor("gelu.cu", "sm_90", ModelConstants(751)), o => o.StartsWith("-D", StringComparison.Ordinal));
    }

    [Fact]
    public void Models_that_differ_only_in_classes_share_every_cache_key()
    {
        foreach (string file in KernelSources.KernelFiles)
        {
            Assert.Equal(KeyOf(file, ModelConstants(751)), KeyOf(file, ModelConstants(1041)));
        }

        // a constant a file reads still keys it
        Assert.NotEqual(KeyOf("layernorm.cu", ModelConstants(751)), KeyOf("layernorm.cu", ModelConstants(751, dim: 384)));
        Assert.Equal(KeyOf("gelu.cu", ModelConstants(751)), KeyOf("gelu.cu", ModelConstants(751, dim: 384)));
        Assert.Equal(KeyOf("gelu.cu", []), KeyOf("gelu.cu", ModelConstants(751)));
    }

    [Fact]
    public void Key_depends_on_source_options_target_and_nvrtc_version()
    {
        var headers = KernelSources.Headers;
        string k = KernelCompiler.CacheKey("a.cu", "src", headers, ["--gpu-architecture=sm_90"], 13, 0, "sm_90", true);
        Assert.Equal(64, k.Length);
        Assert.NotEqual(k, KernelCompiler.CacheKey("a.cu", "src2", headers, ["--gpu-architecture=sm_90"], 13, 0, "sm_90", true));
        Assert.NotEqual(k, KernelCompiler.CacheKey("a.cu", "src", headers, ["--gpu-architecture=sm_90", "-DDIM=768"], 13, 0, "sm_90", true));
        Assert.NotEqual(k, KernelCompiler.CacheKey("a.cu", "src", headers, ["--gpu-architecture=sm_90"], 12, 8, "sm_90", true));
        Assert.NotEqual(k, KernelCompiler.CacheKey("a.cu", "src", headers, ["--gpu-architecture=sm_90"], 13, 0, "compute_90", false));
        Assert.NotEqual(k, KernelCompiler.CacheKey("a.cu", "src", [], ["--gpu-architecture=sm_90"], 13, 0, "sm_90", true));
        Assert.Equal(k, KernelCompiler.CacheKey("a.cu", "src", headers, ["--gpu-architecture=sm_90"], 13, 0, "sm_90", true));
    }

    [Fact]
    public void Specialised_and_generic_builds_are_separate_entries_and_invalidate_deletes()
    {
        TestEnvironment.RequireNvrtc();
        var compiler = new KernelCompiler(_dir);
        KernelImage generic = compiler.Compile("attention.cu", "sm_90", true, KernelCompiler.Options("sm_90", []));
        KernelImage special = compiler.Compile("attention.cu", "sm_90", true, KernelCompiler.Options("sm_90", KernelCompileTests.VitConstants));
        Assert.NotEqual(generic.CacheKey, special.CacheKey);
        Assert.Equal(2, Directory.GetFiles(_dir).Length);
        compiler.Invalidate(special);
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Empty_cache_directory_turns_the_disk_cache_off()
    {
        TestEnvironment.RequireNvrtc();
        var compiler = new KernelCompiler("");
        var options = KernelCompiler.Options("sm_90", []);
        Assert.False(compiler.Compile("gelu.cu", "sm_90", true, options).FromCache);
        Assert.False(compiler.Compile("gelu.cu", "sm_90", true, options).FromCache);
        Assert.Null(compiler.CachePath("gelu.cu", "k", true));
    }

    [Fact]
    public void Default_cache_directory_honours_TRANSREID_CACHE()
    {
        string? old = Environment.GetEnvironmentVariable(KernelCompiler.CacheVariable);
        try
        {
            Environment.SetEnvironmentVariable(KernelCompiler.CacheVariable, _dir);
            Assert.Equal(Path.Combine(_dir, "kernels"), KernelCompiler.DefaultCacheDirectory());
            Environment.SetEnvironmentVariable(KernelCompiler.CacheVariable, null);
            Assert.EndsWith(Path.Combine("transreid", "kernels"), KernelCompiler.DefaultCacheDirectory(), StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(KernelCompiler.CacheVariable, old);
        }
    }
}
