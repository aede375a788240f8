// Stylesheets are imported for esbuild, which bundles them into the console's one CSS file.
declare module '*.css';
