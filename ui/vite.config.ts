import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The app loads ui/dist through Tauri's custom protocol; `npm run dev` serves it for `tauri dev`.
export default defineConfig(({ mode }) => ({
  plugins: [svelte()],
  clearScreen: false,
  // Under test, the IPC names' test reads the app shell's Rust source beside the UI.
  server: { port: 5173, strictPort: true, ...(mode === "test" ? { fs: { allow: [".."] } } : {}) },
  build: { target: "es2022", outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  // Svelte's browser build (mount/flushSync) under Vitest, not its server build.
  resolve: { conditions: ["browser"] },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    setupFiles: ["src/test-setup.ts"],
  },
}));
