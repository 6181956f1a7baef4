"""`flowc up` / `flowc down`: apply the AWS target's Terraform to a local cloud.

    localcloud.py   LocalStack when one answers, else a detached moto server (pid/port in --state)
    moto_server.py  that server: moto plus the APIs it lacks for flowc's output
    overrides.py    the Terraform override file: the local endpoint, test credentials, local-only
                    settings
    terraform.py    runs terraform init/apply/destroy and streams its JSON progress as events
    blame.py        maps Terraform diagnostics back to the flowc task (or secret) that caused them
    progress.py     shows those events with a rich progress bar
    applied.py      what the last successful apply was made from (an unchanged `up` skips it)
    inventory.py    reads what was created back through boto3 and renders a table
    runner.py       `up()` and `down()`: the steps above in order, for one spec and environment

Layout under the state directory (default `.flowc/`):

    <state>/up/cloud.json            the local cloud in use: kind, endpoint, pid, port
    <state>/up/moto.log              the embedded server's log
    <state>/up/terraform.rc          the Terraform CLI config (provider mirror)
    <state>/up/<stack>/aws/          compiled AWS target + override + terraform.tfstate
"""
