// Lint for the whole project, type-aware so @pulumi/eslint-plugin can see
// Outputs: an Output inside a template literal prints "Calling [toString] on
// an Output<T>" instead of its value, and in a script it would leak structure.
import pulumi from "@pulumi/eslint-plugin";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/", ".tools/", "rendered/", ".pulumi-state/", "**/*.mjs", "**/*.js", "**/*.cjs", "test/fixtures/lint/"] },
    ...tseslint.configs.recommended,
    {
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
        },
        plugins: { "@pulumi": pulumi },
        rules: {
            "@pulumi/no-output-in-template-literal": "error",
            "@pulumi/no-output-instance-in-template-literal": "error",
            "@typescript-eslint/no-floating-promises": "error",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
        },
    },
    {
        // Dependencies point one way: index.ts -> components/ -> policies/ -> lib/.
        files: ["policies/**/*.ts"],
        rules: {
            "no-restricted-imports": [
                "error",
                { patterns: [{ group: ["**/components/**", "**/index"], message: "policies/ stands alone: what it shares with components/ lives in lib/" }] },
            ],
        },
    },
    {
        files: ["lib/**/*.ts"],
        rules: {
            "no-restricted-imports": [
                "error",
                {
                    patterns: [
                        { group: ["**/components/**", "**/policies/**"], message: "lib/ is the bottom layer: it imports neither components/ nor policies/" },
                    ],
                },
            ],
        },
    },
    {
        // Tests poke at loosely typed fixtures and mock inputs on purpose.
        files: ["test/**/*.ts"],
        rules: {
            "@typescript-eslint/no-explicit-any": "off",
            "@typescript-eslint/no-non-null-assertion": "off",
        },
    },
);
