"""The ingestion stack the original plan implied, as a reference for ChatSphere's own
(`cargo bench --features ssr --bench ingest` runs it with BENCH_PYTHON): pypdf for PDF,
python-docx for DOCX, lxml for HTML, the csv module, LangChain's recursive character splitter,
sentence-transformers on torch with the same all-MiniLM-L6-v2 folder ChatSphere uses, and
psycopg into PostgreSQL with a full-text column, the same work ChatSphere's pipeline does
(text, words for keyword search, vector). Prints documents → stored, pages/s and chunks/s per
stage.

    reference_ingest.py CORPUS_DIR MODEL_DIR DATABASE_URL PAGES
"""

import csv
import io
import os
import sys
import time

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import docx  # python-docx
import lxml.html
import psycopg
from langchain_text_splitters import RecursiveCharacterTextSplitter
from pypdf import PdfReader
from sentence_transformers import SentenceTransformer


def extract(path):
    """The document's text, sections separated by blank lines."""
    if path.endswith(".pdf"):
        return "\n\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
    if path.endswith(".docx"):
        return "\n\n".join(p.text for p in docx.Document(path).paragraphs)
    if path.endswith(".html"):
        root = lxml.html.parse(path).getroot()
        return "\n\n".join(e.text_content() for e in root.iter("h1", "h2", "h3", "p", "li"))
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    if path.endswith(".csv"):
        rows = csv.DictReader(io.StringIO(raw))
        return "\n\n".join("\n".join(f"{k}: {v}" for k, v in row.items()) for row in rows)
    return raw


def main():
    corpus, model_dir, url, pages = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    model = SentenceTransformer(model_dir, device="cpu")
    model.encode(["warm up"])
    # ChatSphere's chunks are 256 estimated tokens with 32 of overlap: about 1,000 and 128
    # characters of English.
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=128)
    seconds = {"extract": 0.0, "chunk": 0.0, "embed": 0.0, "store": 0.0}
    chunks_total = 0
    chars = 0
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE chunks (id bigserial PRIMARY KEY, document text NOT NULL, ordinal int NOT NULL, text text NOT NULL,"
            " tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED, vector bytea NOT NULL)"
        )
        conn.execute("CREATE INDEX chunks_tsv_idx ON chunks USING gin (tsv)")
        conn.commit()
        started = time.perf_counter()
        for name in sorted(os.listdir(corpus)):
            t = time.perf_counter()
            text = extract(os.path.join(corpus, name))
            seconds["extract"] += time.perf_counter() - t
            t = time.perf_counter()
            chunks = splitter.split_text(text)
            seconds["chunk"] += time.perf_counter() - t
            t = time.perf_counter()
            vectors = model.encode(chunks, batch_size=32, normalize_embeddings=True)
            seconds["embed"] += time.perf_counter() - t
            t = time.perf_counter()
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO chunks (document, ordinal, text, vector) VALUES (%s, %s, %s, %s)",
                    [(name, i, c, v.astype("<f4").tobytes()) for i, (c, v) in enumerate(zip(chunks, vectors))],
                )
            conn.commit()
            seconds["store"] += time.perf_counter() - t
            chunks_total += len(chunks)
            chars += sum(len(c) for c in chunks)
        total = time.perf_counter() - started
    print(
        f"Python reference: {len(os.listdir(corpus))} documents, {pages} pages, {chunks_total} chunks ({chars // 1000} k characters"
        f" embedded) stored in {total:.1f} s"
        f" ({pages / total:.1f} pages/s, {chunks_total / total:.1f} chunks/s)",
        flush=True,
    )
    for stage, s in sorted(seconds.items(), key=lambda kv: -kv[1]):
        s = max(s, 1e-3)
        print(f"  {stage:<10} {s:>6.1f} s   {pages / s:>9.1f} pages/s   {chunks_total / s:>9.1f} chunks/s", flush=True)


if __name__ == "__main__":
    main()
