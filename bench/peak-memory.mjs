// Preloaded with `node --import ./bench/peak-memory.mjs …`: samples the heap every 20 ms and, when the
// process exits, writes its peak RSS (the kernel's maxRSS) and peak heap use as JSON to the file
// named by PEAK_MEMORY_FILE.
import { writeFileSync } from 'node:fs';

const file = process.env.PEAK_MEMORY_FILE;
if (file) {
  let peakHeap = 0;
  const sample = () => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  };
  setInterval(sample, 20).unref();
  process.on('exit', () => {
    sample();
    const maxRssBytes = process.resourceUsage().maxRSS * 1024;
    writeFileSync(file, JSON.stringify({ maxRssBytes, peakHeapUsedBytes: peakHeap }));
  });
}
