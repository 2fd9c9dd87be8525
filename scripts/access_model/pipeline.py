"""The calls a SageMaker pipeline makes with its role, and the model packages it registers.

Each step of the pipeline definition (in the template, as deployed) is the request SageMaker Pipelines sends with the
pipeline's role: Processing -> CreateProcessingJob, Training -> CreateTrainingJob, RegisterModel ->
CreateModelPackage, with the step's Arguments as parameters. Pipeline expressions are evaluated: parameters take
their default and every value a state machine starts the pipeline with; `Execution.PipelineExecutionId` a sample
id; a step property the URI it resolves to (a processing output's S3Uri, a training job's
`<S3OutputPath>/<job>/output/model.tar.gz`). The jobs' own access (their role reading inputs, writing outputs) is
derived from these parameters by the reviewed rules, like any other call's extra permissions.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from access_model.assembly import Environment
from access_model.requests import SAMPLE_ID, Call

STEP_PROPERTY = re.compile(r"^Steps\.(?P<step>[^.]+)\.(?P<rest>.+)$")
OUTPUT = re.compile(r"^ProcessingOutputConfig\.Outputs\['(?P<name>[^']+)'\]\.S3Output\.S3Uri$")
STEP_API = {"Processing": "sagemaker:CreateProcessingJob", "Training": "sagemaker:CreateTrainingJob"}
JOB_NAME = {"Processing": "ProcessingJobName", "Training": "TrainingJobName"}


@dataclass
class ModelPackage:
    group: str
    containers: list[dict]  # InferenceSpecification containers, expressions evaluated
    origin: str


@dataclass
class Pipeline:
    name: str
    role: str
    definition: dict
    parameter_values: dict[str, list[Any]] = field(default_factory=dict)

    def steps(self) -> list[dict]:
        def walk(steps: list[dict]) -> list[dict]:
            found = []
            for step in steps:
                found.append(step)
                arguments = step.get("Arguments", {})
                found += walk(arguments.get("IfSteps", [])) + walk(arguments.get("ElseSteps", []))
            return found

        return walk(self.definition["Steps"])

    def step(self, name: str) -> dict:
        return next(step for step in self.steps() if step["Name"] == name)

    def job_name(self, step: dict) -> str:
        return f"pipelines-{SAMPLE_ID[:12]}-{step['Name']}-{SAMPLE_ID[-8:]}".lower()

    # ------------------------------------------------------------------------------------------- expressions
    def evaluate(self, value: Any, depth: int = 0) -> list[Any]:
        """Every concrete value of a pipeline expression (parameters may take several)."""
        if depth > 20:
            return ["<runtime value>"]
        if isinstance(value, list):
            return [list(c) for c in itertools.islice(itertools.product(*(self.evaluate(v, depth) for v in value)), 8)]
        if not isinstance(value, dict):
            return [value]
        if set(value) == {"Get"}:
            return self._get(value["Get"], depth + 1)
        if set(value) == {"Std:Join"}:
            join = value["Std:Join"]
            parts = [self.evaluate(part, depth + 1) for part in join["Values"]]
            return [join["On"].join(map(str, combo)) for combo in itertools.islice(itertools.product(*parts), 8)]
        if set(value) == {"Std:JsonGet"}:
            return ["<runtime value>"]
        keys = list(value)
        options = [self.evaluate(value[key], depth + 1) for key in keys]
        return [dict(zip(keys, combo)) for combo in itertools.islice(itertools.product(*options), 8)]

    def _get(self, reference: str, depth: int) -> list[Any]:
        if reference.startswith("Parameters."):
            return self.parameter_values.get(reference.split(".", 1)[1], ["<unresolved:" + reference + ">"])
        if reference.startswith("Execution."):
            return [SAMPLE_ID]
        match = STEP_PROPERTY.match(reference)
        if not match:
            return [f"<unresolved:{reference}>"]
        step = self.step(match["step"])
        output = OUTPUT.match(match["rest"])
        if output:
            for candidate in step["Arguments"]["ProcessingOutputConfig"]["Outputs"]:
                if candidate["OutputName"] == output["name"]:
                    return self.evaluate(candidate["S3Output"]["S3Uri"], depth)
        if match["rest"] == "ModelArtifacts.S3ModelArtifacts":
            paths = self.evaluate(step["Arguments"]["OutputDataConfig"]["S3OutputPath"], depth)
            return [f"{path.rstrip('/')}/{self.job_name(step)}/output/model.tar.gz" for path in paths]
        return ["<runtime value>"]


class Pipelines:
    def __init__(self, env: Environment, start_calls: list[Call]) -> None:
        """start_calls: the StartPipelineExecution calls the state machines make (their parameter values count)."""
        self.env = env
        self.pipelines = []
        for resource in env.resources("AWS::SageMaker::Pipeline"):
            body = resource.properties["PipelineDefinition"]["PipelineDefinitionBody"]
            pipeline = Pipeline(resource.properties["PipelineName"], resource.properties["RoleArn"], json.loads(body))
            for parameter in pipeline.definition.get("Parameters", []):
                values = [parameter["DefaultValue"]] if "DefaultValue" in parameter else []
                for call in start_calls:
                    if call.params.get("PipelineName") == pipeline.name:
                        values += [
                            p["Value"]
                            for p in call.params.get("PipelineParameters", [])
                            if p.get("Name") == parameter["Name"] and isinstance(p.get("Value"), str)
                        ]
                pipeline.parameter_values[parameter["Name"]] = sorted(set(values), key=str)
            self.pipelines.append(pipeline)

    def calls(self) -> list[Call]:
        calls = []
        for pipeline in self.pipelines:
            for step in pipeline.steps():
                origin = f"pipeline {pipeline.name}, step {step['Name']}"
                kind = step["Type"]
                if kind in STEP_API:
                    for arguments in pipeline.evaluate(step["Arguments"]):
                        params = {**arguments, JOB_NAME[kind]: pipeline.job_name(step)}
                        calls.append(Call(pipeline.role, STEP_API[kind], params, origin))
                elif kind == "RegisterModel":
                    group = step["Arguments"]["ModelPackageGroupName"]
                    arn = f"arn:aws:sagemaker:{self.env.region}:{self.env.account}:model-package/{group}/1"
                    calls.append(
                        Call(pipeline.role, "sagemaker:CreateModelPackage", step["Arguments"], origin, resources=[arn])
                    )
                for property_file in step.get("PropertyFiles", []):
                    calls += self._property_file_reads(pipeline, step, property_file, origin)
        return calls

    def _property_file_reads(self, pipeline: Pipeline, step: dict, property_file: dict, origin: str) -> list[Call]:
        """A condition reads a property file from the step's output with the pipeline's role."""
        outputs = step["Arguments"]["ProcessingOutputConfig"]["Outputs"]
        uris = [
            uri
            for output in outputs
            if output["OutputName"] == property_file["OutputName"]
            for uri in pipeline.evaluate(output["S3Output"]["S3Uri"])
        ]
        return [
            Call(
                pipeline.role,
                "s3:GetObject",
                {},
                f"{origin} (property file {property_file['PropertyFileName']})",
                resources=[_object_arn(f"{uri.rstrip('/')}/{property_file['FilePath']}")],
            )
            for uri in uris
        ]

    def model_packages(self) -> list[ModelPackage]:
        packages = []
        for pipeline in self.pipelines:
            for step in pipeline.steps():
                if step["Type"] != "RegisterModel":
                    continue
                containers = []
                for container in step["Arguments"]["InferenceSpecification"]["Containers"]:
                    containers += pipeline.evaluate(container)
                origin = f"model package of group {step['Arguments']['ModelPackageGroupName']} ({pipeline.name})"
                packages.append(ModelPackage(step["Arguments"]["ModelPackageGroupName"], containers, origin))
        return packages


def _object_arn(uri: str) -> str:
    return "arn:aws:s3:::" + uri.removeprefix("s3://")
