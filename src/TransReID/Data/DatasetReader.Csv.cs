using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace TransReID.Data;

public static partial class DatasetReader
{
    /// <summary>
    /// A CSV manifest: rows <c>path,identity[,camera[,view]]</c>, an optional header line (recognised by a non-integer
    /// identity field), paths relative to the CSV's folder (absolute paths allowed), camera and view 0-based. Fields may
    /// be double-quoted. <paramref name="path"/> is either one .csv file (every row goes to the train split) or a folder
    /// with <c>train.csv</c> and optional <c>query.csv</c> and <c>gallery.csv</c>. All files must agree on the columns.
    /// Without a camera column <see cref="ReidDataset.Cameras"/> is 0 (camera SIE off) and cameras are set to 0 for
    /// train/query and 1 for gallery, so the evaluation's same-camera filter never fires.
    /// </summary>
    public static ReidDataset ReadCsv(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string? trainCsv;
        string? queryCsv = null, galleryCsv = null;
        if (File.Exists(path))
        {
            trainCsv = path;
        }
        else if (Directory.Exists(path))
        {
            trainCsv = Path.Combine(path, "train.csv");
            if (!File.Exists(trainCsv))
            {
                throw new FileNotFoundException($"CSV manifest not found: '{trainCsv}'", trainCsv);
            }

            queryCsv = Path.Combine(path, "query.csv");
            galleryCsv = Path.Combine(path, "gallery.csv");
        }
        else
        {
            throw new FileNotFoundException($"CSV manifest not found: '{path}'", path);
        }

        var trainRows = ReadCsvRows(trainCsv);
        var queryRows = queryCsv is not null && File.Exists(queryCsv) ? ReadCsvRows(queryCsv) : null;
        var galleryRows = galleryCsv is not null && File.Exists(galleryCsv) ? ReadCsvRows(galleryCsv) : null;

        int columns = trainRows.Columns;
        foreach (var other in new[] { queryRows, galleryRows })
        {
            if (other is not null && other.Columns != 0 && columns != 0 && other.Columns != columns)
            {
                throw new InvalidDataException(
                    $"'{other.File}' has {other.Columns} columns but '{trainRows.File}' has {columns}; all manifests must agree");
            }

            columns = Math.Max(columns, other?.Columns ?? 0);
        }

        bool hasCameras = columns >= 3;
        bool hasViews = columns >= 4;
        var train = trainRows.Images;
        var query = queryRows?.Images ?? [];
        var gallery = galleryRows?.Images ?? [];
        if (hasCameras)
        {
            return Build("csv", train, query, gallery, hasViews);
        }

        gallery = gallery.ConvertAll(i => i with { Camera = 1 });
        int views = hasViews ? train.Concat(query).Concat(gallery).Select(i => i.View + 1).DefaultIfEmpty(0).Max() : 0;
        return new ReidDataset("csv", new ReidSplit(Relabel(train)), new ReidSplit(query), new ReidSplit(gallery), 0, views);
    }

    private sealed record CsvRows(string File, int Columns, List<ReidImage> Images);

    private static CsvRows ReadCsvRows(string csvPath)
    {
        string baseDir = Path.GetDirectoryName(Path.GetFullPath(csvPath)) ?? ".";
        var images = new List<ReidImage>();
        int columns = 0;
        int lineNumber = 0;
        bool first = true;
        foreach (string line in File.ReadLines(csvPath))
        {
            lineNumber++;
            if (line.AsSpan().Trim().IsEmpty)
            {
                continue;
            }

            var fields = SplitCsvLine(line, csvPath, lineNumber);
            bool wasFirst = first;
            first = false;
            if (wasFirst && (fields.Count < 2 || !int.TryParse(fields[1].Trim(), NumberStyles.AllowLeadingSign,
                    CultureInfo.InvariantCulture, out _)))
            {
                continue; // header
            }

            if (fields.Count is < 2 or > 4)
            {
                throw new InvalidDataException(
                    $"{csvPath}:{lineNumber}: expected path,identity[,camera[,view]] but found {fields.Count} fields");
            }

            if (columns == 0)
            {
                columns = fields.Count;
            }
            else if (fields.Count != columns)
            {
                throw new InvalidDataException(
                    $"{csvPath}:{lineNumber}: {fields.Count} fields where earlier rows have {columns}");
            }

            string file = fields[0].Trim();
            if (file.Length == 0)
            {
                throw new InvalidDataException($"{csvPath}:{lineNumber}: empty path");
            }

            int identity = ParseCsvInt(fields[1], "identity", csvPath, lineNumber);
            int camera = fields.Count >= 3 ? ParseCsvInt(fields[2], "camera", csvPath, lineNumber) : 0;
            int view = fields.Count >= 4 ? ParseCsvInt(fields[3], "view", csvPath, lineNumber) : 0;
            images.Add(new ReidImage(Path.GetFullPath(file, baseDir), identity, camera, view));
        }

        return new CsvRows(csvPath, columns, images);
    }

    private static int ParseCsvInt(string field, string name, string csvPath, int lineNumber) =>
        int.TryParse(field.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new InvalidDataException(
                $"{csvPath}:{lineNumber}: {name} '{field.Trim()}' is not a non-negative integer");

    /// <summary>Splits one CSV line (RFC 4180 quoting: "a,b" and "" for a quote inside quotes).</summary>
    private static List<string> SplitCsvLine(string line, string csvPath, int lineNumber)
    {
        var fields = new List<string>();
        var current = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    current.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }

        if (quoted)
        {
            throw new InvalidDataException($"{csvPath}:{lineNumber}: unterminated quoted field");
        }

        fields.Add(current.ToString().TrimEnd('\r'));
        return fields;
    }
}
