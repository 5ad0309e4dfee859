// Interop peer for tests/interop/content_*_test.cpp: ipfs-unixfs-importer and @ipld/car.
//   node content_interop.mjs cids JOBS.json          -> JSON array of root CIDs, one per job
//        job = {file, cidVersion, rawLeaves, chunkSize, maxLinks}
//   node content_interop.mjs readcar IN.car           -> {roots, blocks, size, sha256}: every block
//        hash-checked, the file reassembled from the DAG under the first root
//   node content_interop.mjs writecar FILE OUT.car JOB.json [dfs|import] -> {root, blocks}: a CAR in DFS
//        pre-order (default), or in the order the importer stored its blocks (leaves first, the root last;
//        each block once), as a CAR written straight from an import is
// Runs on Node 18 (CI) and later.
import { createReadStream } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { CarReader, CarWriter } from '@ipld/car'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'

// Options that make the JS importer do what kubo does with the same settings.
function importerOptions (job) {
  return {
    cidVersion: job.cidVersion,
    rawLeaves: job.rawLeaves,
    leafType: 'file',
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: job.chunkSize }),
    layout: balanced({ maxChildrenPerNode: job.maxLinks }),
    wrapWithDirectory: false
  }
}

// Keeps nothing: CID computation only.
const nullStore = { put: async (cid) => cid, has: async () => false, get: async () => { throw new Error('null store') } }

async function importFile (file, job, store) {
  const content = createReadStream(file, { highWaterMark: 1 << 20 })
  let last
  for await (const entry of importer([{ content }], store, importerOptions(job))) last = entry
  return last.cid
}

async function cids (jobsFile) {
  const jobs = JSON.parse(await readFile(jobsFile, 'utf8'))
  const out = []
  for (const job of jobs) out.push((await importFile(job.file, job, nullStore)).toString())
  process.stdout.write(JSON.stringify(out) + '\n')
}

async function dfs (get, cid, visit) {
  const bytes = await get(cid)
  await visit(cid, bytes)
  if (cid.code !== dagPb.code) return
  for (const link of dagPb.decode(bytes).Links) await dfs(get, link.Hash, visit)
}

async function readcar (carFile) {
  const reader = await CarReader.fromBytes(await readFile(carFile))
  const roots = await reader.getRoots()
  const blocks = new Map()
  let count = 0
  for await (const { cid, bytes } of reader.blocks()) {
    const digest = await sha256.digest(bytes)
    if (cid.multihash.code !== sha256.code || Buffer.compare(digest.digest, cid.multihash.digest) !== 0) {
      throw new Error(`block ${cid} does not match its CID`)
    }
    blocks.set(cid.multihash.bytes.toString(), bytes)
    count++
  }
  const hash = createHash('sha256')
  let size = 0
  await dfs(async (cid) => {
    const b = blocks.get(cid.multihash.bytes.toString())
    if (b == null) throw new Error(`missing block ${cid}`)
    return b
  }, roots[0], async (cid, bytes) => {
    let data = bytes
    if (cid.code === dagPb.code) data = UnixFS.unmarshal(dagPb.decode(bytes).Data).data ?? new Uint8Array()
    hash.update(data)
    size += data.length
  })
  process.stdout.write(JSON.stringify({ roots: roots.map(String), blocks: count, size, sha256: hash.digest('hex') }) + '\n')
}

async function writecar (file, outFile, jobFile, order = 'dfs') {
  const job = JSON.parse(await readFile(jobFile, 'utf8'))
  const store = new MemoryBlockstore()
  const stored = []  // the importer's put order, each block once
  const recording = {
    put: async (cid, bytes) => {
      if (!(await store.has(cid))) stored.push({ cid, bytes })
      return store.put(cid, bytes)
    },
    has: (cid) => store.has(cid),
    get: (cid) => store.get(cid)
  }
  const root = await importFile(file, job, recording)
  const { writer, out } = CarWriter.create([root])
  const chunks = []
  const collect = (async () => { for await (const c of out) chunks.push(c) })()
  let blocks = 0
  if (order === 'import') {
    for (const b of stored) { await writer.put(b); blocks++ }
  } else {
    await dfs(async (cid) => store.get(cid), root, async (cid, bytes) => { await writer.put({ cid, bytes }); blocks++ })
  }
  await writer.close()
  await collect
  await writeFile(outFile, Buffer.concat(chunks))
  process.stdout.write(JSON.stringify({ root: root.toString(), blocks }) + '\n')
}

const [mode, ...args] = process.argv.slice(2)
const modes = { cids, readcar, writecar }
if (modes[mode] == null) {
  console.error('usage: content_interop.mjs cids|readcar|writecar ...')
  process.exit(2)
}
modes[mode](...args).catch((err) => { console.error(err.stack ?? String(err)); process.exit(1) })
void CID
