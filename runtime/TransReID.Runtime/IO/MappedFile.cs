using System;
using System.IO;
using System.IO.MemoryMappedFiles;

namespace TransReID.Runtime.IO;

/// <summary>
/// A whole file mapped read-only, with its view's pointer acquired: what <see cref="PthFile"/> and
/// <see cref="SafetensorsFile"/> read tensors from. Disposing releases the pointer, unmaps and closes the file.
/// </summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;

    private MappedFile(MemoryMappedFile map, MemoryMappedViewAccessor view, byte* pointer, long length)
    {
        _map = map;
        _view = view;
        Pointer = pointer;
        Length = length;
    }

    /// <summary>The first byte of the file.</summary>
    public byte* Pointer { get; }

    /// <summary>Bytes in the file.</summary>
    public long Length { get; }

    /// <summary>Whether <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>Opens a file for mapping: read-only, others may read or delete it meanwhile.</summary>
    public static FileStream OpenRead(string fullPath) =>
        new(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 1, FileOptions.RandomAccess);

    /// <summary>Maps all of <paramref name="stream"/> (which the mapping then owns; on failure it is closed).</summary>
    public static MappedFile Map(FileStream stream)
    {
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        bool acquired = false;
        try
        {
            long length = stream.Length;
            map = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* start = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
            acquired = true;
            return new MappedFile(map, view, start + view.PointerOffset, length);
        }
        catch
        {
            if (acquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Releases the pointer, unmaps and closes the file. Idempotent.</summary>
    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
