// One cdktf App of generic constructs from stack skeletons (flowc/targets/synth.py): the
// only code that drives cdktf. Run: `node cdktf_app.js < skeletons.json` with NODE_PATH
// holding cdktf and constructs (synth.py unpacks them from the Python packages); prints the
// documents as a JSON list of strings.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const cdktf = require("cdktf");

class Provider extends cdktf.TerraformProvider {
  constructor(scope, name, spec) {
    super(scope, name, {
      terraformResourceType: name,
      terraformProviderSource: spec.source,
      terraformGeneratorMetadata: { providerName: name, providerVersionConstraint: spec.version },
    });
    this.attrs = spec.attrs;
  }
  synthesizeAttributes() { return this.attrs; }
}

class Backend extends cdktf.TerraformBackend {
  constructor(scope, kind, attrs) {
    super(scope, "backend", kind);
    this.attrs = attrs;
  }
  synthesizeAttributes() { return this.attrs; }
  getRemoteStateDataSource() { throw new Error("flowc stacks do not read remote state"); }
}

const byName = (a, b) => (a < b ? -1 : a > b ? 1 : 0);  // Python's sorted(): code points

function synthesize(skeletons) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flowc-synth-"));
  try {
    const app = new cdktf.App({ outdir: tmp, skipValidation: true });
    for (const sk of skeletons) {
      const tf = new cdktf.TerraformStack(app, sk.stack_id);
      if (sk.backend === null) new cdktf.LocalBackend(tf, { path: "terraform.tfstate" });
      else new Backend(tf, ...sk.backend);
      for (const name of Object.keys(sk.providers).sort(byName)) {
        new Provider(tf, name, sk.providers[name]);
      }
      for (const [section, Construct] of [["resource", cdktf.TerraformResource],
                                           ["data", cdktf.TerraformDataSource]]) {
        for (const type of Object.keys(sk[section]).sort(byName)) {
          for (const id of [...sk[section][type]].sort(byName)) {
            new Construct(tf, id, { terraformResourceType: type });
          }
        }
      }
    }
    app.synth();
    return skeletons.map((sk) =>
      fs.readFileSync(path.join(tmp, "stacks", sk.stack_id, "cdk.tf.json"), "utf8"));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

process.stdout.write(JSON.stringify(synthesize(JSON.parse(fs.readFileSync(0, "utf8")))));
