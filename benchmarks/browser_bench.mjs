// Runs benchmarks/browser_bench.py inside the site's own Pyodide under Node (the V8 engine of
// Chromium), with this repository's nnlib and data/mnist.npz mounted. Started by browser_bench.py:
//     node benchmarks/browser_bench.mjs <pyodide folder> <repository> [arguments for the script]
import path from "node:path";
import { pathToFileURL } from "node:url";

const [pyodideDir, repo, ...args] = process.argv.slice(2);
const started = performance.now();
const { loadPyodide } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href);
const pyodide = await loadPyodide({ indexURL: path.resolve(pyodideDir) + "/" });
pyodide.setStdout({ batched: (line) => console.log(line) });
pyodide.setStderr({ batched: (line) => console.error(line) });
// What nnlib and the benchmark import, from the site's lock (its sha256 checked by Pyodide).
const packages = ["numpy", "scipy", "tqdm", "threadpoolctl", "matplotlib", "ipython"];
await pyodide.loadPackage(packages, { messageCallback: () => {} });
const { FS } = pyodide;
FS.mkdirTree("/repo");
FS.mount(FS.filesystems.NODEFS, { root: path.resolve(repo) }, "/repo");
FS.mkdirTree("/drive/data"); // where nnlib.data looks for MNIST in the browser
FS.mount(FS.filesystems.NODEFS, { root: path.resolve(repo, "data") }, "/drive/data");
console.log(`Pyodide ${pyodide.version} loaded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
pyodide.globals.set("bench_args", pyodide.toPy(args));
let code = 1;
try {
  code = await pyodide.runPythonAsync(`
import runpy, sys
sys.path.insert(0, "/repo")
sys.argv = ["browser_bench.py", *bench_args]
try:
    runpy.run_path("/repo/benchmarks/browser_bench.py", run_name="__main__")
    status = 0
except SystemExit as stop:
    status = stop.code if isinstance(stop.code, int) else 1
status
`);
} catch (error) {
  console.error(error.message); // the Python traceback (not Pyodide's minified source)
}
process.exit(code);
