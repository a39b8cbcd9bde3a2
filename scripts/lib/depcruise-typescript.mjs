// dependency-cruiser parses TypeScript with the `typescript` package's JavaScript API, which
// TypeScript 7 (the native compiler this project type-checks with) no longer ships. This loader
// hook hands dependency-cruiser TypeScript 6, installed under the alias `typescript-for-depcruise`;
// everything else keeps TypeScript 7.
import { registerHooks } from "node:module";

registerHooks({
  resolve(specifier, context, next) {
    const own = specifier === "typescript" || specifier.startsWith("typescript/");
    if (own && context.parentURL?.includes("/dependency-cruiser/")) {
      return next(specifier.replace(/^typescript/, "typescript-for-depcruise"), context);
    }
    return next(specifier, context);
  },
});
